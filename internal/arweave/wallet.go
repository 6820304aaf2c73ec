package arweave

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
)

// Arweave wallets are 4096-bit RSA keys with public exponent 65537; the owner
// (public key) field of a type-1 data item is the 512-byte modulus.
const (
	RSAKeyBits  = 4096
	RSAOwnerLen = RSAKeyBits / 8
	// RSASaltLength is the PSS salt length Wallet.Sign uses (the hash length,
	// as browser wallets do). Verification accepts any salt length.
	RSASaltLength = 32
)

// Wallet is an Arweave RSA-4096 key pair. It implements Signer (signature
// type 1).
type Wallet struct {
	key   *rsa.PrivateKey
	owner []byte
}

// jwk is the JSON Web Key form of an Arweave wallet (arweave-js keyfile).
type jwk struct {
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
	D   string `json:"d,omitempty"`
	P   string `json:"p,omitempty"`
	Q   string `json:"q,omitempty"`
	DP  string `json:"dp,omitempty"`
	DQ  string `json:"dq,omitempty"`
	QI  string `json:"qi,omitempty"`
}

// LoadWallet reads a wallet from its JWK JSON (an Arweave keyfile). The key
// must be a 4096-bit RSA private key with its primes p and q.
func LoadWallet(jsonBytes []byte) (*Wallet, error) {
	var k jwk
	if err := json.Unmarshal(jsonBytes, &k); err != nil {
		return nil, fmt.Errorf("wallet: not a JWK JSON object: %v", err)
	}
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("wallet: kty is %q, want \"RSA\"", k.Kty)
	}
	field := func(name, v string) (*big.Int, error) {
		if v == "" {
			return nil, fmt.Errorf("wallet: the JWK has no %q (a private RSA key needs n, e, d, p and q)", name)
		}
		b, err := B64Decode(v)
		if err != nil {
			return nil, fmt.Errorf("wallet: %q is not base64url: %v", name, err)
		}
		return new(big.Int).SetBytes(b), nil
	}
	n, err := field("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := field("e", k.E)
	if err != nil {
		return nil, err
	}
	d, err := field("d", k.D)
	if err != nil {
		return nil, err
	}
	p, err := field("p", k.P)
	if err != nil {
		return nil, err
	}
	q, err := field("q", k.Q)
	if err != nil {
		return nil, err
	}
	if n.BitLen() != RSAKeyBits {
		return nil, fmt.Errorf("wallet: the modulus has %d bits; Arweave wallets are %d-bit RSA keys", n.BitLen(), RSAKeyBits)
	}
	if !e.IsInt64() || e.Int64() != 65537 {
		return nil, fmt.Errorf("wallet: public exponent is %v; Arweave owners imply 65537", e)
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: 65537},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("wallet: inconsistent RSA key: %v", err)
	}
	key.Precompute()
	return newWallet(key), nil
}

// LoadWalletFile reads a wallet from a JWK keyfile.
func LoadWalletFile(path string) (*Wallet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wallet: %v", err)
	}
	w, err := LoadWallet(b)
	if err != nil {
		return nil, fmt.Errorf("%v (%s)", err, path)
	}
	return w, nil
}

// GenerateWallet makes a new 4096-bit RSA wallet with exponent 65537 from the
// system's secure random source (since Go 1.26 crypto/rsa ignores any other
// reader). It takes a few seconds.
func GenerateWallet() (*Wallet, error) {
	key, err := rsa.GenerateKey(rand.Reader, RSAKeyBits)
	if err != nil {
		return nil, fmt.Errorf("wallet: generate: %v", err)
	}
	if key.E != 65537 || key.N.BitLen() != RSAKeyBits {
		return nil, fmt.Errorf("wallet: generate: got a %d-bit key with e=%d", key.N.BitLen(), key.E)
	}
	return newWallet(key), nil
}

func newWallet(key *rsa.PrivateKey) *Wallet {
	return &Wallet{key: key, owner: key.N.FillBytes(make([]byte, RSAOwnerLen))}
}

// Address is the wallet's Arweave address: base64url(sha256(modulus)).
func (w *Wallet) Address() string {
	sum := sha256.Sum256(w.owner)
	return B64Encode(sum[:])
}

// Owner is the wallet's public key as it appears in a data item's owner field
// (the 512-byte big-endian modulus); base64url of it is the "owner" of
// GraphQL and the SU. The caller must not modify it.
func (w *Wallet) Owner() []byte { return w.owner }

// PublicKey implements Signer; it is Owner.
func (w *Wallet) PublicKey() []byte { return w.owner }

// SignatureType implements Signer: 1, Arweave RSA-PSS.
func (w *Wallet) SignatureType() int { return SigTypeArweave }

// Sign signs message with RSA-PSS over SHA-256(message), salt length 32.
func (w *Wallet) Sign(message []byte) ([]byte, error) {
	digest := sha256.Sum256(message)
	sig, err := rsa.SignPSS(rand.Reader, w.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: RSASaltLength})
	if err != nil {
		return nil, fmt.Errorf("wallet: sign: %v", err)
	}
	return sig, nil
}

// JWK returns the wallet as JWK JSON, the keyfile format arweave-js reads.
func (w *Wallet) JWK() []byte {
	k := w.key
	enc := func(x *big.Int) string { return B64Encode(x.Bytes()) }
	out, err := json.Marshal(jwk{
		Kty: "RSA",
		N:   enc(k.N),
		E:   enc(big.NewInt(int64(k.E))),
		D:   enc(k.D),
		P:   enc(k.Primes[0]),
		Q:   enc(k.Primes[1]),
		DP:  enc(k.Precomputed.Dp),
		DQ:  enc(k.Precomputed.Dq),
		QI:  enc(k.Precomputed.Qinv),
	})
	if err != nil {
		panic(err) // strings only; cannot fail
	}
	return out
}

// VerifyRSA checks an Arweave RSA-PSS signature: owner is the 512-byte
// modulus (exponent 65537), the digest is SHA-256(message), and any salt
// length is accepted, as node's crypto and the Rust SU do.
func VerifyRSA(owner, message, signature []byte) error {
	if len(owner) != RSAOwnerLen {
		return errorf(ErrMalformed, "RSA owner is %d bytes, want %d", len(owner), RSAOwnerLen)
	}
	if len(signature) != RSAOwnerLen {
		return errorf(ErrMalformed, "RSA signature is %d bytes, want %d", len(signature), RSAOwnerLen)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(owner), E: 65537}
	digest := sha256.Sum256(message)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
		return errorf(ErrInvalidSignature, "RSA-PSS signature does not verify: %v", err)
	}
	return nil
}
