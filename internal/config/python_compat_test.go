package config

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// pythonDump prints every section/option/value as Python's
// RawConfigParser (the Python agent's reader) sees them.
const pythonDump = `
import configparser, json, sys
p = configparser.RawConfigParser()
p.read(sys.argv[1])
print(json.dumps({s: dict(p.items(s)) for s in p.sections()}))
`

// TestSameValuesAsPythonConfigparser reads the test file and the shipped
// file with Python's own parser and checks that every value we see is the
// value Python sees.
func TestSameValuesAsPythonConfigparser(t *testing.T) {
	for _, file := range []string{"testdata/stock-shapes.ini", "../../configs/ambari-agent.ini"} {
		out, err := exec.Command("python3", "-c", pythonDump, file).Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		var want map[string]map[string]string
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(file, data, ""); err != nil {
			t.Fatal(err)
		}
		r := newReader(file, data)
		n := 0
		for section, kv := range want {
			for key, v := range kv {
				got, ok := r.raw(section, key)
				if !ok || got != v {
					t.Errorf("%s [%s] %s: got %q (present %v), Python %q", file, section, key, got, ok, v)
				}
				n++
			}
		}
		if n < 20 {
			t.Fatalf("%s: only %d values compared", file, n)
		}
	}
}
