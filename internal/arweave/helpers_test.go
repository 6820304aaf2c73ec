package arweave

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
)

var (
	testWalletOnce sync.Once
	testWalletVal  *Wallet
	testWalletErr  error
)

// testWallet is testdata/wallet.json, the wallet the RSA vectors are signed
// with.
func testWallet(t testing.TB) *Wallet {
	t.Helper()
	testWalletOnce.Do(func() {
		testWalletVal, testWalletErr = LoadWalletFile(filepath.Join("testdata", "wallet.json"))
	})
	if testWalletErr != nil {
		t.Fatal(testWalletErr)
	}
	return testWalletVal
}

// testED25519 is the ED25519 key of the vectors (seed in vectors.cjs).
func testED25519(t testing.TB) ED25519Signer {
	seed := sha256.Sum256([]byte("aocu arweave-vectors ed25519 test key"))
	return ED25519Signer{Key: ed25519.NewKeyFromSeed(seed[:])}
}

func testEthereum(t testing.TB) *EthereumSigner {
	t.Helper()
	k := sha256.Sum256([]byte("aocu arweave-vectors secp256k1 test key"))
	s, err := NewEthereumSigner(k[:])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sha256Address(b []byte) string {
	s := sha256.Sum256(b)
	return B64Encode(s[:])
}

// pssSaltLength recovers the salt length of an RSA-PSS (SHA-256) signature
// with the public key (RFC 8017 EMSA-PSS decoding), or -1.
func pssSaltLength(t testing.TB, owner, sig []byte) int {
	n := new(big.Int).SetBytes(owner)
	em := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(65537), n).FillBytes(make([]byte, len(owner)))
	const hLen = 32
	if em[len(em)-1] != 0xbc {
		return -1
	}
	masked := em[:len(em)-hLen-1]
	h := em[len(em)-hLen-1 : len(em)-1]
	var mask []byte
	for c := uint32(0); len(mask) < len(masked); c++ {
		s := sha256.Sum256(append(append([]byte{}, h...), byte(c>>24), byte(c>>16), byte(c>>8), byte(c)))
		mask = append(mask, s[:]...)
	}
	db := make([]byte, len(masked))
	for i := range db {
		db[i] = masked[i] ^ mask[i]
	}
	db[0] &= 0x7f
	i := 0
	for i < len(db) && db[i] == 0 {
		i++
	}
	if i == len(db) || db[i] != 1 {
		return -1
	}
	return len(db) - i - 1
}
