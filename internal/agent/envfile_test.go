package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/config"
)

func writeEnvFile(t *testing.T, cfg *config.Config, text string) {
	t.Helper()
	if err := os.MkdirAll(cfg.WorkDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(EnvFile(cfg), []byte(text), 0o700); err != nil {
		t.Fatal(err)
	}
}

// The stock ambari-env.sh, as the ambari-agent package installs it.
const stockEnvFile = `# To change a passphrase adjust the line below.
AMBARI_PASSPHRASE="DEV"
export PATH=$PATH:/var/lib/ambari-agent
export PYTHONPATH=/usr/lib/ambari-agent/lib:$PYTHONPATH

# export PYTHON=/usr/bin/python2
`

func TestEnvFilePassphrasePrecedence(t *testing.T) {
	cases := []struct {
		name, env, file, want string
	}{
		{"nothing set: the server's default", "", "", "DEV"},
		{"file only", "", "AMBARI_PASSPHRASE=\"s3cret\"\n", "s3cret"},
		{"environment wins over the file", "fromenv", "AMBARI_PASSPHRASE=\"s3cret\"\n", "fromenv"},
		{"stock file", "", stockEnvFile, "DEV"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults(t.TempDir())
			t.Setenv("AMBARI_PASSPHRASE", tc.env)
			t.Setenv("PYTHONPATH", "")
			if tc.file != "" {
				writeEnvFile(t, cfg, tc.file)
			}
			if err := ApplyEnvFile(cfg); err != nil {
				t.Fatal(err)
			}
			if got := os.Getenv("AMBARI_PASSPHRASE"); got != tc.want {
				t.Errorf("AMBARI_PASSPHRASE=%q, want %q", got, tc.want)
			}
		})
	}
}

// PYTHON and PYTHONPATH are taken as the file leaves them, and applying
// the file twice (start, then the daemon) does not repeat entries.
func TestEnvFilePythonSettings(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	t.Setenv("AMBARI_PASSPHRASE", "")
	t.Setenv("PYTHONPATH", "/site/a")
	t.Setenv("PYTHON", "")
	writeEnvFile(t, cfg, stockEnvFile+"export PYTHON=/opt/python3/bin/python3\n")
	for i := 0; i < 2; i++ {
		if err := ApplyEnvFile(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if got := os.Getenv("PYTHONPATH"); got != "/usr/lib/ambari-agent/lib:/site/a" {
		t.Errorf("PYTHONPATH=%q", got)
	}
	if got := os.Getenv("PYTHON"); got != "/opt/python3/bin/python3" {
		t.Errorf("PYTHON=%q", got)
	}
}

func TestEnvFileErrorsNameTheFile(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	t.Setenv("AMBARI_PASSPHRASE", "")
	// A directory where the file should be cannot be read, even by root.
	if err := os.MkdirAll(EnvFile(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	err := ApplyEnvFile(cfg)
	if err == nil || !strings.Contains(err.Error(), EnvFile(cfg)) {
		t.Fatalf("unreadable env file: %v", err)
	}
	os.Remove(EnvFile(cfg))
	writeEnvFile(t, cfg, "if then fi (\n")
	err = ApplyEnvFile(cfg)
	if err == nil || !strings.Contains(err.Error(), EnvFile(cfg)) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("env file with a syntax error: %v", err)
	}
}

func TestTmpDirIsSticky(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ensureTmpDir(dir); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Errorf("tmp dir mode %v, want drwxrwxrwt", st.Mode())
	}
}
