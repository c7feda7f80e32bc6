package orchestrator

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

const (
	credentialProviderProperty = "hadoop.security.credential.provider.path"
	credentialClassPathKey     = "credentialStoreClassPath"
	encryptedPrefix            = "${enc=aes256_hex, value="
	pbkdf2Iterations           = 65536
	// credentialShellTimeout bounds one run of the Java credential shell.
	credentialShellTimeout = 5 * time.Minute
)

// needsCredentialStore reports whether the command's passwords go into
// JCEKS files before it runs (docs/behaviour.md §5.4.3).
func needsCredentialStore(cmd map[string]any, commandName string) bool {
	slp := child(cmd, "serviceLevelParams")
	if slp == nil || !pyvalue.Truthy(slp["credentialStoreEnabled"]) || commandName == "STATUS" {
		return false
	}
	retried, _ := child(cmd, "agentLevelParams")["commandBeingRetried"].(string)
	return retried != "true"
}

// credentialsByConfigType collects, per config type, alias -> password from
// serviceLevelParams.configuration_credentials and removes the clear-text
// values from the command's configurations.
func credentialsByConfigType(cmd map[string]any) map[string]map[string]string {
	out := map[string]map[string]string{}
	cc := child(child(cmd, "serviceLevelParams"), "configuration_credentials")
	configs := child(cmd, "configurations")
	if cc == nil || configs == nil {
		return out
	}
	for _, configType := range sortedKeys(cc) {
		props := asMap(cc[configType])
		config := asMap(configs[configType])
		if props == nil || config == nil {
			continue
		}
		creds := map[string]string{}
		var used []string
		for _, keyName := range sortedKeys(props) {
			valueName, ok := props[keyName].(string)
			if !ok {
				continue
			}
			if keyName == valueName {
				if v, ok := config[valueName]; ok {
					creds[keyName] = pyvalue.Str(v)
					used = append(used, valueName)
				}
				continue
			}
			// "name:other-config-type": the alias is the value of property
			// name in the other config type (or in this one).
			name, otherType, cross := strings.Cut(keyName, ":")
			keyConfig := config
			if cross {
				keyConfig = asMap(configs[otherType])
				if keyConfig == nil {
					continue
				}
			}
			alias, okAlias := keyConfig[name]
			pwd, okPwd := config[valueName]
			if okAlias && okPwd {
				creds[pyvalue.Str(alias)] = pyvalue.Str(pwd)
				used = append(used, valueName)
			}
		}
		if len(creds) > 0 {
			out[configType] = creds
		}
		for _, v := range used {
			delete(config, v)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// generateJCEKS writes each config type's passwords into
// <credential_conf_dir>/<role>/<type>.jceks through the Hadoop credential
// shell and points the configuration at the store instead.
func (o *Orchestrator) generateJCEKS(cmd map[string]any) error {
	creds := credentialsByConfigType(cmd)
	if len(creds) == 0 {
		o.log.Info("Credential store is enabled but no property are found that can be encrypted.")
		cmd["credentialStoreEnabled"] = "false"
		return nil
	}
	cmd["credentialStoreEnabled"] = "true"
	javaHome, ok := child(cmd, "ambariLevelParams")["java_home"].(string)
	if !ok {
		return errors.New("credential store: ambariLevelParams.java_home is missing")
	}
	java := javaHome + "/bin/java"
	classPath := filepath.Join(o.cfg.CredentialLibDir, "*")
	owner, _ := cmd["role"].(string)
	if owner == "" {
		owner = pyvalue.Str(cmd["serviceName"])
	}
	dir := filepath.Join(o.cfg.CredentialConfDir, strings.ToLower(owner))
	configs := child(cmd, "configurations")
	types := make([]string, 0, len(creds))
	for t := range creds {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, configType := range types {
		file := filepath.Join(dir, configType+".jceks")
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("credential store: remove %s: %w", file, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("credential store: %w", err)
		}
		provider := "jceks://file" + file
		aliases := make([]string, 0, len(creds[configType]))
		for a := range creds[configType] {
			aliases = append(aliases, a)
		}
		sort.Strings(aliases)
		for _, alias := range aliases {
			pwd, err := o.ensureDecrypted(creds[configType][alias])
			if err != nil {
				return fmt.Errorf("credential store: alias %s of %s: %w", alias, configType, err)
			}
			// The password is on the command line, as with the Python agent;
			// it is never logged.
			o.log.WithFields(map[string]any{"alias": alias, "provider": provider}).Info("Creating credential store entry")
			ctx, cancel := context.WithTimeout(context.Background(), credentialShellTimeout)
			out, err := exec.CommandContext(ctx, java, "-cp", classPath, o.cfg.CredentialShellCmd,
				"create", alias, "-value", pwd, "-provider", provider).CombinedOutput()
			cancel()
			if err != nil {
				var exitErr *exec.ExitError
				if !errors.As(err, &exitErr) {
					return fmt.Errorf("credential store: run %s: %w", java, err)
				}
				// Like the Python agent, a failing credential shell does not
				// stop the command; the script will report what is missing.
				o.log.WithError(err).WithField("output", strings.TrimSpace(string(out))).Warn("Credential shell failed")
			}
			if err := os.Chmod(file, 0o644); err != nil {
				return fmt.Errorf("credential store: %w", err)
			}
		}
		config := asMap(configs[configType])
		config[credentialProviderProperty] = provider
		config[credentialClassPathKey] = classPath
	}
	return nil
}

// ensureDecrypted decrypts a value of the form ${enc=aes256_hex, value=<hex>}
// with the agent's encryption key; other values pass through.
func (o *Orchestrator) ensureDecrypted(v string) (string, error) {
	if !strings.HasPrefix(v, encryptedPrefix) {
		return v, nil
	}
	key := ""
	if o.cfg.EncryptionKey != nil {
		key = o.cfg.EncryptionKey()
	}
	if key == "" {
		key = os.Getenv("AGENT_ENCRYPTION_KEY")
	}
	if key == "" {
		return "", errors.New("missing encryption key: the server has not sent one and AGENT_ENCRYPTION_KEY is not set")
	}
	return decryptValue(v, key)
}

// decryptValue decodes <hex> to "<salt hex>::<iv hex>::<cipher hex>" and
// decrypts with AES-CBC under PBKDF2-HMAC-SHA1(key, salt, 65536, 16 bytes).
// Deliberate difference: the Python helper decrypts a single 16-byte block
// only (longer values fail); the whole CBC stream is decrypted here.
func decryptValue(v, key string) (string, error) {
	_, rest, _ := strings.Cut(v, "value=")
	rest = strings.TrimSuffix(rest, "}")
	text, err := hex.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	parts := strings.Split(string(text), "::")
	if len(parts) != 3 {
		return "", errors.New("decrypt: value is not salt::iv::data")
	}
	var raw [3][]byte
	for i, p := range parts {
		if raw[i], err = hex.DecodeString(p); err != nil {
			return "", fmt.Errorf("decrypt: %w", err)
		}
	}
	salt, iv, data := raw[0], raw[1], raw[2]
	aesKey, err := pbkdf2.Key(sha1.New, key, salt, pbkdf2Iterations, 16)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	if len(iv) != aes.BlockSize || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return "", errors.New("decrypt: bad iv or data length")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(plain) {
		return "", errors.New("decrypt: bad padding")
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return "", errors.New("decrypt: bad padding")
		}
	}
	return string(plain[:len(plain)-pad]), nil
}
