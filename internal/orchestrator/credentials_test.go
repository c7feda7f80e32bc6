package orchestrator

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// encrypt produces the server's ${enc=aes256_hex, value=...} form.
func encrypt(t *testing.T, plain, key string) string {
	t.Helper()
	salt, iv := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	k, err := pbkdf2.Key(sha1.New, key, salt, pbkdf2Iterations, 16)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(k)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	data := append([]byte(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, data)
	inner := hex.EncodeToString(salt) + "::" + hex.EncodeToString(iv) + "::" + hex.EncodeToString(out)
	return encryptedPrefix + hex.EncodeToString([]byte(inner)) + "}"
}

func TestDecryptValue(t *testing.T) {
	for _, plain := range []string{"short", "exactly16bytes!!", "a much longer secret that spans several AES blocks"} {
		got, err := decryptValue(encrypt(t, plain, "k1"), "k1")
		if err != nil || got != plain {
			t.Errorf("%q: got %q, %v", plain, got, err)
		}
		if got, err := decryptValue(encrypt(t, plain, "k1"), "wrong"); err == nil && got == plain {
			t.Errorf("%q decrypted with the wrong key", plain)
		}
	}
	for _, bad := range []string{encryptedPrefix + "zz}", encryptedPrefix + hex.EncodeToString([]byte("a::b")) + "}"} {
		if _, err := decryptValue(bad, "k"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCredentialStoreGeneratesJCEKS(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.CredentialLibDir = "/opt/cred/lib"
		c.CredentialConfDir = filepath.Join(filepath.Dir(c.Prefix), "cred-conf")
		c.EncryptionKey = func() string { return "agent-key" }
	})
	javaBin := filepath.Join(e.root, "jdk", "bin")
	os.MkdirAll(javaBin, 0o755)
	record := filepath.Join(e.root, "jdk", "argv.log")
	os.WriteFile(filepath.Join(javaBin, "java"), []byte(`#!/bin/sh
for a in "$@"; do printf '%s|' "$a" >> `+record+`; last="$a"; done
echo >> `+record+`
touch "${last#jceks://file}"
`), 0o755)

	secret := "a longer secret value!"
	extra := map[string]any{
		"serviceLevelParams": map[string]any{"credentialStoreEnabled": true, "configuration_credentials": map[string]any{
			"cred-site":    map[string]any{"db.password": "db.password", "alias.name:alias-site": "secret.value"},
			"missing-site": map[string]any{"x": "x"},
		}},
		"configurations": map[string]any{
			"cred-site":  map[string]any{"db.password": "plain1", "secret.value": encrypt(t, secret, "agent-key"), "keep": "x"},
			"alias-site": map[string]any{"alias.name": "my.alias"},
		},
	}
	h := header(t, 300, "TESTKIT", "CRED_COMP", "START", testkitParams("structured.py", 60, nil), extra)
	if res := e.orch.Run(context.Background(), e.request(h)); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stdout)
	}
	store := filepath.Join(e.root, "cred-conf", "cred_comp", "cred-site.jceks")
	provider := "jceks://file" + store
	want := "-cp|/opt/cred/lib/*|org.apache.hadoop.security.alias.CredentialShell|create|db.password|-value|plain1|-provider|" + provider + "|\n" +
		"-cp|/opt/cred/lib/*|org.apache.hadoop.security.alias.CredentialShell|create|my.alias|-value|" + secret + "|-provider|" + provider + "|\n"
	if got := testutil.ReadFile(t, record); got != want {
		t.Errorf("java calls:\n%s\nwant:\n%s", got, want)
	}
	if st, err := os.Stat(store); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("store file: %v %v", st, err)
	}
	cmd := readJSON(t, filepath.Join(e.data, "command-300.json"))
	site := child(child(cmd, "configurations"), "cred-site")
	if _, ok := site["db.password"]; ok || site["secret.value"] != nil || site["keep"] != "x" {
		t.Errorf("clear-text passwords left in the command file: %v", site)
	}
	if site[credentialProviderProperty] != provider || site[credentialClassPathKey] != "/opt/cred/lib/*" || cmd["credentialStoreEnabled"] != "true" {
		t.Errorf("provider settings: %v, %v", site, cmd["credentialStoreEnabled"])
	}
	if strings.Contains(testutil.ReadFile(t, filepath.Join(e.data, "command-300.json")), "plain1") {
		t.Error("password in the command file")
	}

	// A retry does not regenerate the stores.
	os.Remove(record)
	h = header(t, 301, "TESTKIT", "CRED_COMP", "START", testkitParams("structured.py", 60, nil), extra)
	h["agentLevelParams"] = map[string]any{"commandBeingRetried": "true"}
	if res := e.orch.Run(context.Background(), e.request(h)); res.ExitCode != 0 {
		t.Fatalf("retry exit %d: %s", res.ExitCode, res.Stdout)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("credential shell ran on a retry")
	}

	// Enabled, but nothing to store.
	extra["serviceLevelParams"] = map[string]any{"credentialStoreEnabled": true, "configuration_credentials": map[string]any{}}
	h = header(t, 302, "TESTKIT", "CRED_COMP", "START", testkitParams("structured.py", 60, nil), extra)
	e.orch.Run(context.Background(), e.request(h))
	if cmd := readJSON(t, filepath.Join(e.data, "command-302.json")); cmd["credentialStoreEnabled"] != "false" {
		t.Errorf("credentialStoreEnabled = %v", cmd["credentialStoreEnabled"])
	}
}
