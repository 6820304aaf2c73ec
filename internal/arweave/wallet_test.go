package arweave

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateWalletJWKRoundTrip(t *testing.T) {
	w, err := GenerateWallet()
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Owner()) != RSAOwnerLen {
		t.Fatalf("owner is %d bytes", len(w.Owner()))
	}
	var fields map[string]string
	if err := json.Unmarshal(w.JWK(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"} {
		if fields[k] == "" {
			t.Errorf("JWK lacks %q", k)
		}
	}
	if fields["e"] != "AQAB" || fields["kty"] != "RSA" {
		t.Errorf("JWK e=%q kty=%q", fields["e"], fields["kty"])
	}
	path := filepath.Join(t.TempDir(), "w.json")
	if err := os.WriteFile(path, w.JWK(), 0o600); err != nil {
		t.Fatal(err)
	}
	w2, err := LoadWalletFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Address() != w.Address() || len(w.Address()) != 43 {
		t.Errorf("address %s after reload, was %s", w2.Address(), w.Address())
	}
	msg := []byte("message")
	sig, err := w2.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyRSA(w.Owner(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := VerifyRSA(w.Owner(), []byte("other"), sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("verify of another message: %v", err)
	}
}

func TestTestWalletMatchesJWK(t *testing.T) {
	// The committed wallet survives export and reload.
	w := testWallet(t)
	w2, err := LoadWallet(w.JWK())
	if err != nil {
		t.Fatal(err)
	}
	if w2.Address() != w.Address() {
		t.Errorf("address changed through JWK()")
	}
}

func TestLoadWalletRejects(t *testing.T) {
	good := map[string]string{}
	if err := json.Unmarshal(testWallet(t).JWK(), &good); err != nil {
		t.Fatal(err)
	}
	jwkWith := func(change map[string]string) []byte {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range change {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	for _, c := range []struct {
		name string
		json []byte
		want string
	}{
		{"not json", []byte("{"), "wallet: not a JWK JSON object"},
		{"wrong kty", jwkWith(map[string]string{"kty": "EC"}), `wallet: kty is "EC", want "RSA"`},
		{"public only", jwkWith(map[string]string{"d": "", "p": "", "q": ""}), `wallet: the JWK has no "d"`},
		{"no primes", jwkWith(map[string]string{"p": ""}), `wallet: the JWK has no "p"`},
		{"bad base64", jwkWith(map[string]string{"n": "***"}), `wallet: "n" is not base64url`},
		{"small key", jwkWith(map[string]string{"n": B64Encode(bytes.Repeat([]byte{0xff}, 256))}), "wallet: the modulus has 2048 bits; Arweave wallets are 4096-bit RSA keys"},
		{"exponent 3", jwkWith(map[string]string{"e": "Aw"}), "wallet: public exponent is 3"},
		{"wrong prime", jwkWith(map[string]string{"p": good["q"]}), "wallet: inconsistent RSA key"},
	} {
		_, err := LoadWallet(c.json)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := LoadWalletFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "wallet: ") {
		t.Errorf("missing file: %v", err)
	}
}
