// Command build makes the ambari-agent-go .deb and .rpm described by
// packaging/nfpm.yaml (`make package` runs it from the repository root).
//
// The .deb is nfpm's. The .rpm is built from the same description with
// nfpm's RPM library directly, because it needs what nfpm's configuration
// cannot express: a trigger on the ambari-agent package, which re-points
// /usr/sbin/ambari-agent after that package's scripts have run.
//
// A package without a version, or without the Ambari version it depends
// on, is refused.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	"go.digitalxero.dev/rpm"
)

var (
	// versionRE accepts release versions valid for both dpkg and rpm:
	// digits and dots, optionally a ~, + or . suffix (no '-', which both
	// reserve for the release).
	versionRE       = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+([~+.][0-9A-Za-z.]+)?$`)
	ambariVersionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)
)

func main() {
	var o options
	flag.StringVar(&o.config, "config", "packaging/nfpm.yaml", "package description")
	flag.StringVar(&o.version, "version", "", "package version, e.g. 1.0.0 (required)")
	flag.StringVar(&o.ambariVersion, "ambari-version", "", "Ambari version of the ambari-agent package it depends on, e.g. 2.7.8.0.0 (required)")
	flag.StringVar(&o.binary, "binary", "", "the ambari-agent binary to package (required)")
	flag.StringVar(&o.out, "out", "dist", "output directory")
	flag.StringVar(&o.formats, "formats", "deb,rpm", "package formats")
	flag.Parse()
	paths, err := build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "package: %v\n", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}

type options struct {
	config, version, ambariVersion, binary, out, formats string
}

func build(o options) ([]string, error) {
	o.version = strings.TrimPrefix(o.version, "v")
	if !versionRE.MatchString(o.version) {
		return nil, fmt.Errorf("refusing to build a package with version %q: give a release version, e.g. make package VERSION=1.0.0 AMBARI_VERSION=2.7.8.0.0", o.version)
	}
	if !ambariVersionRE.MatchString(o.ambariVersion) {
		return nil, fmt.Errorf("refusing to build a package with Ambari version %q: give the Ambari version of the ambari-agent package to depend on, e.g. AMBARI_VERSION=2.7.8.0.0 (the ambari-agent package's version, as in its data/version)", o.ambariVersion)
	}
	if st, err := os.Stat(o.binary); err != nil || st.IsDir() {
		return nil, fmt.Errorf("agent binary %q: not a file", o.binary)
	}
	vars := map[string]string{"PKG_VERSION": o.version, "AMBARI_VERSION": o.ambariVersion, "AGENT_BINARY": o.binary}
	cfg, err := nfpm.ParseFileWithEnvMapping(o.config, func(k string) string { return vars[k] })
	if err != nil {
		return nil, err
	}
	scripts, err := os.MkdirTemp("", "ambari-agent-go-scripts")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scripts)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, format := range strings.Split(o.formats, ",") {
		info, err := cfg.Get(format)
		if err != nil {
			return nil, err
		}
		info = nfpm.WithDefaults(info)
		if err := withCommonScript(info, filepath.Dir(o.config), filepath.Join(scripts, format)); err != nil {
			return nil, err
		}
		var path string
		switch format {
		case "deb":
			path, err = buildDeb(info, o.out)
		case "rpm":
			path, err = buildRPM(info, o.out, filepath.Dir(o.config))
		default:
			err = fmt.Errorf("unknown format %q", format)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", format, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// withCommonScript puts common.sh (the helpers every maintainer script
// uses) in front of each script, in dir.
func withCommonScript(info *nfpm.Info, pkgDir, dir string) error {
	common, err := os.ReadFile(filepath.Join(pkgDir, "common.sh"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range []*string{&info.Scripts.PreInstall, &info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove} {
		if *s == "" {
			continue
		}
		composed, err := composeScript(common, *s)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, filepath.Base(*s))
		if err := os.WriteFile(out, composed, 0o755); err != nil {
			return err
		}
		*s = out
	}
	return nil
}

func composeScript(common []byte, path string) ([]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte("#!/bin/sh\n# ambari-agent-go " + filepath.Base(path) + "\n" + string(common) + "\n" + string(body)), nil
}

func buildDeb(info *nfpm.Info, out string) (string, error) {
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	path := filepath.Join(out, pkg.ConventionalFileName(info))
	return path, writeFile(path, func(w io.Writer) error { return pkg.Package(info, w) })
}

// rpmArch maps nfpm's (Go's) architecture names to rpm's.
var rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i386"}

func buildRPM(info *nfpm.Info, out, pkgDir string) (string, error) {
	if err := nfpm.PrepareForPackager(info, "rpm"); err != nil {
		return "", err
	}
	arch := rpmArch[info.Arch]
	if arch == "" {
		arch = info.Arch
	}
	release := info.Release
	if release == "" {
		release = "1"
	}
	b := rpm.NewPackage().
		WithName(info.Name).
		WithVersion(info.Version).
		WithRelease(release).
		WithSummary(strings.SplitN(info.Description, "\n", 2)[0]).
		WithDescription(info.Description).
		WithArch(arch).
		WithOS("linux").
		WithLicense(info.License).
		WithURL(info.Homepage).
		WithVendor(info.Vendor).
		WithPackager(info.Maintainer).
		WithBuildTime(time.Now())
	if host, err := os.Hostname(); err == nil {
		b.WithBuildHost(host)
	}
	reqs := b.Requires()
	for _, d := range info.Depends {
		reqs.AddParsed(d)
	}
	reqs.Done()

	scripts := []struct {
		path string
		set  func() rpm.ScriptletBuilder
	}{
		{info.Scripts.PreInstall, b.Prein},
		{info.Scripts.PostInstall, b.Postin},
		{info.Scripts.PreRemove, b.Preun},
		{info.Scripts.PostRemove, b.Postun},
	}
	for _, s := range scripts {
		if s.path == "" {
			continue
		}
		body, err := os.ReadFile(s.path)
		if err != nil {
			return "", err
		}
		s.set().WithScript(string(body)).Done()
	}
	// After every install or upgrade of ambari-agent, whose scripts point
	// /usr/sbin/ambari-agent at its own init script.
	common, err := os.ReadFile(filepath.Join(pkgDir, "common.sh"))
	if err != nil {
		return "", err
	}
	trigger, err := composeScript(common, filepath.Join(pkgDir, "rpm", "triggerin.sh"))
	if err != nil {
		return "", err
	}
	b.Trigger(rpm.TriggerIn).On("ambari-agent", "", rpm.SenseAny).WithScript(string(trigger)).Done()

	for _, c := range info.Contents {
		if c.Packager != "" && c.Packager != "rpm" {
			continue
		}
		mtime := uint32(c.FileInfo.MTime.Unix())
		switch c.Type {
		case files.TypeImplicitDir:
			continue
		case files.TypeDir:
			b.File(c.Destination).Directory().WithMode(uint(c.FileInfo.Mode.Perm())).
				WithOwner(c.FileInfo.Owner).WithGroup(c.FileInfo.Group).WithMTime(mtime).Add()
		case files.TypeSymlink:
			b.File(c.Destination).WithSymlink(c.Source).WithOwner(c.FileInfo.Owner).WithGroup(c.FileInfo.Group).WithMTime(mtime).Add()
		default:
			src := c.Source
			st, err := os.Stat(src)
			if err != nil {
				return "", err
			}
			fb := b.File(c.Destination).
				WithOpener(func() (io.ReadCloser, error) { return os.Open(src) }, st.Size()).
				WithMode(uint(c.FileInfo.Mode.Perm())).
				WithOwner(c.FileInfo.Owner).WithGroup(c.FileInfo.Group).WithMTime(mtime)
			if c.Type == files.TypeConfig || c.Type == files.TypeConfigNoReplace {
				fb.WithType(rpm.ConfigFile | rpm.NoReplaceFile)
			}
			fb.Add()
		}
	}
	pkg, err := b.Build()
	if err != nil {
		return "", err
	}
	path := filepath.Join(out, fmt.Sprintf("%s-%s-%s.%s.rpm", info.Name, info.Version, release, arch))
	return path, writeFile(path, func(w io.Writer) error { _, err := pkg.WriteTo(w); return err })
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
