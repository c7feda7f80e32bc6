package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse reads arbitrary ini text. It must never panic: it either
// returns a configuration or an error naming the file.
func FuzzParse(f *testing.F) {
	for _, p := range []string{filepath.Join("..", "..", "configs", "ambari-agent.ini"), filepath.Join("testdata", "stock-shapes.ini")} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, s := range []string{
		"[server]\nhostname=h1\n[agent]\nprefix=/var/lib/ambari-agent/data\n",
		"[server]\nhostname = h1, h2\nurl_port=8440\n[agent]\nprefix=/d\nping_port=abc\n",
		"[agent]\nprefix=/d\n  continued\n; comment\n# another\n\n[security]\nkeysdir=%(prefix)s/keys\n",
		"[server\nhostname=h1\n",
		"no section=1\n",
		"[agent]\n[agent]\nprefix=/a\nprefix=/b\n",
		"[logging]\nlog_command_executes=1\nsyslog_enabled=0\n[python]\n",
		"\ufeff[server]\r\nhostname=h1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("fuzz.ini", []byte(text), "/home")
		if err == nil && c == nil {
			t.Fatal("no configuration and no error")
		}
	})
}
