package arweave

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// vectors is testdata/vectors.json, made by tools/arweave-vectors/vectors.cjs
// with arbundles and aoconnect.
type vectors struct {
	Generator map[string]string `json:"generator"`
	Wallet    struct {
		Address string `json:"address"`
	} `json:"wallet"`
	Keys struct {
		ED25519Seed        string `json:"ed25519Seed"`
		EthereumPrivateKey string `json:"ethereumPrivateKey"`
		EthereumAddress    string `json:"ethereumAddress"`
	} `json:"keys"`
	DeepHashes []struct {
		Input json.RawMessage `json:"input"`
		Hash  string          `json:"hash"`
	} `json:"deepHashes"`
	Items   []itemVector `json:"items"`
	Bundles []struct {
		Name string   `json:"name"`
		Raw  string   `json:"raw"`
		IDs  []string `json:"ids"`
	} `json:"bundles"`
}

// itemVector is one item as the reference describes it (also the shape of
// vectors.cjs verify's results).
type itemVector struct {
	Name           string `json:"name"`
	Signer         string `json:"signer"`
	Raw            string `json:"raw"`
	SignatureType  int    `json:"signatureType"`
	ID             string `json:"id"`
	Owner          string `json:"owner"`
	OwnerAddress   string `json:"ownerAddress"`
	AoOwnerAddress string `json:"aoOwnerAddress"`
	Target         string `json:"target"`
	Anchor         string `json:"anchor"`
	Tags           []Tag  `json:"tags"`
	Data           string `json:"data"`
	SignatureData  string `json:"signatureData"`
	PSSSaltLength  *int   `json:"pssSaltLength"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	return &v
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := B64Decode(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// deepInput turns the JSON form {blob: b64url} / {list: [...]} into DeepHash's.
func deepInput(t *testing.T, raw json.RawMessage) any {
	var x struct {
		Blob *string           `json:"blob"`
		List []json.RawMessage `json:"list"`
	}
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	if x.Blob != nil {
		return mustB64(t, *x.Blob)
	}
	l := []any{}
	for _, e := range x.List {
		l = append(l, deepInput(t, e))
	}
	return l
}

func TestVectorsDeepHash(t *testing.T) {
	v := loadVectors(t)
	if len(v.DeepHashes) == 0 {
		t.Fatal("no deep hash vectors")
	}
	for i, d := range v.DeepHashes {
		got := DeepHash(deepInput(t, d.Input))
		if B64Encode(got[:]) != d.Hash {
			t.Errorf("deep hash %d (%s): got %s, arbundles %s", i, d.Input, B64Encode(got[:]), d.Hash)
		}
	}
}

// checkItem compares a Go-parsed item with the reference's description.
func checkItem(t *testing.T, d *DataItem, want itemVector) {
	t.Helper()
	if d.SignatureType != want.SignatureType {
		t.Errorf("signature type %d, reference %d", d.SignatureType, want.SignatureType)
	}
	if d.ID() != want.ID {
		t.Errorf("id %s, reference %s", d.ID(), want.ID)
	}
	if B64Encode(d.Owner) != want.Owner {
		t.Errorf("owner differs")
	}
	if want.AoOwnerAddress != "" && d.OwnerAddress() != want.AoOwnerAddress {
		t.Errorf("owner address %s, reference (ao CU) %s", d.OwnerAddress(), want.AoOwnerAddress)
	}
	if B64Encode(d.Target) != want.Target {
		t.Errorf("target %q, reference %q", B64Encode(d.Target), want.Target)
	}
	if B64Encode(d.Anchor) != want.Anchor {
		t.Errorf("anchor %q, reference %q", B64Encode(d.Anchor), want.Anchor)
	}
	wantTags := want.Tags
	if len(wantTags) == 0 {
		wantTags = nil
	}
	if !slices.Equal(d.Tags, wantTags) {
		t.Errorf("tags %q, reference %q", d.Tags, want.Tags)
	}
	if B64Encode(d.Data) != want.Data {
		t.Errorf("data differs (%d bytes, reference %d)", len(d.Data), len(mustB64(t, want.Data)))
	}
	if sd := d.SignatureData(); B64Encode(sd[:]) != want.SignatureData {
		t.Errorf("signature data (deep hash) %s, reference %s", B64Encode(sd[:]), want.SignatureData)
	}
}

func TestVectorsItems(t *testing.T) {
	v := loadVectors(t)
	t.Logf("vectors from %v", v.Generator)
	types := map[int]int{}
	for _, want := range v.Items {
		t.Run(want.Name, func(t *testing.T) {
			raw := mustB64(t, want.Raw)
			d, err := ParseDataItem(raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := d.Verify(); err != nil {
				t.Fatalf("verify: %v", err)
			}
			checkItem(t, d, want)
			if sha := sha256Address(d.Owner); sha != want.OwnerAddress {
				t.Errorf("sha256 owner address %s, reference %s", sha, want.OwnerAddress)
			}
			again, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Errorf("Bytes() differs from the parsed input")
			}
			// Re-encoding the tags from scratch gives arbundles' bytes too.
			d.Tags = slices.Clone(d.Tags)
			d.rawTags = nil
			if again, _ := d.Bytes(); !bytes.Equal(again, raw) {
				t.Errorf("Bytes() with freshly encoded tags differs from arbundles' encoding")
			}
			if want.PSSSaltLength != nil {
				if got := pssSaltLength(t, d.Owner, d.Signature); got != *want.PSSSaltLength {
					t.Errorf("salt length %d, reference %d", got, *want.PSSSaltLength)
				}
			}
			types[d.SignatureType]++
		})
	}
	for _, typ := range []int{SigTypeArweave, SigTypeED25519, SigTypeEthereum} {
		if types[typ] == 0 {
			t.Errorf("no vectors of signature type %d", typ)
		}
	}
}

func TestVectorsBundles(t *testing.T) {
	v := loadVectors(t)
	for _, want := range v.Bundles {
		t.Run(want.Name, func(t *testing.T) {
			raw := mustB64(t, want.Raw)
			items, err := ParseBundle(raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(items) != len(want.IDs) {
				t.Fatalf("%d items, reference %d", len(items), len(want.IDs))
			}
			for i, d := range items {
				if d.ID() != want.IDs[i] {
					t.Errorf("item %d id %s, reference %s", i, d.ID(), want.IDs[i])
				}
				if err := d.Verify(); err != nil {
					t.Errorf("item %d: %v", i, err)
				}
			}
			again, err := BuildBundle(items)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Errorf("BuildBundle of the parsed items differs from arbundles' bundle")
			}
		})
	}
}

func TestVectorsKeys(t *testing.T) {
	v := loadVectors(t)
	w, err := LoadWalletFile(filepath.Join("testdata", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Address() != v.Wallet.Address {
		t.Errorf("wallet address %s, reference %s", w.Address(), v.Wallet.Address)
	}
	eth, err := NewEthereumSigner(mustB64(t, v.Keys.EthereumPrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if eth.Address() != v.Keys.EthereumAddress {
		t.Errorf("ethereum address %s, reference %s", eth.Address(), v.Keys.EthereumAddress)
	}
	// The Go signers make the same public keys as the reference's.
	ed := testED25519(t)
	for _, it := range v.Items {
		var pub []byte
		switch it.SignatureType {
		case SigTypeArweave:
			pub = w.PublicKey()
		case SigTypeED25519:
			pub = ed.PublicKey()
		case SigTypeEthereum:
			pub = eth.PublicKey()
		}
		if B64Encode(pub) != it.Owner {
			t.Errorf("%s: the Go signer's public key is not the item's owner", it.Name)
		}
	}
}
