package arweave

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// ED25519Signer signs type-2 items, as arbundles' ED25519 signers do (the
// message is the 48-byte deep hash itself).
type ED25519Signer struct {
	Key ed25519.PrivateKey
}

// SignatureType implements Signer: 2.
func (e ED25519Signer) SignatureType() int { return SigTypeED25519 }

// PublicKey implements Signer: the 32-byte public key.
func (e ED25519Signer) PublicKey() []byte { return e.Key.Public().(ed25519.PublicKey) }

// Address is base64url(sha256(public key)), the owner address the SU reports.
func (e ED25519Signer) Address() string {
	sum := sha256.Sum256(e.PublicKey())
	return B64Encode(sum[:])
}

// Sign implements Signer.
func (e ED25519Signer) Sign(message []byte) ([]byte, error) {
	return ed25519.Sign(e.Key, message), nil
}
