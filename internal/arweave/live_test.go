package arweave

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refResult is one entry of `node vectors.cjs verify DIR`.
type refResult struct {
	itemVector
	File     string      `json:"file"`
	Kind     string      `json:"kind"`
	Valid    bool        `json:"valid"`
	ValidDha bool        `json:"validDha"`
	Error    string      `json:"error"`
	IDs      []string    `json:"ids"`
	Items    []refResult `json:"items"`
}

// runReference runs tools/arweave-vectors/vectors.cjs verify on dir, or skips
// the test when node or the folder's node_modules is missing.
func runReference(t *testing.T, dir string) []refResult {
	t.Helper()
	tool, err := filepath.Abs(filepath.Join("..", "..", "tools", "arweave-vectors"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIP live arbundles cross-check: node is not in PATH (Go-signed items are only checked against the recorded vectors)")
	}
	if _, err := os.Stat(filepath.Join(tool, "node_modules", "arbundles", "package.json")); err != nil {
		t.Skipf("SKIP live arbundles cross-check: %s/node_modules is missing; run `npm install` there (or scripts/fixtures.sh)", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(tool, "vectors.cjs"), "verify", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node vectors.cjs verify: %v\n%s", err, stderr.String())
	}
	var res struct {
		Generator map[string]string `json:"generator"`
		Results   []refResult       `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node vectors.cjs verify: bad JSON: %v\n%s", err, out)
	}
	t.Logf("reference: %v", res.Generator)
	return res.Results
}

func TestLiveReferenceVerifiesGoItems(t *testing.T) {
	dir := t.TempDir()
	type goItem struct {
		item  *DataItem
		valid bool
	}
	want := map[string]goItem{}
	write := func(name string, d *DataItem, valid bool) {
		raw, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".item"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name+".item"] = goItem{d, valid}
	}
	many := make([]Tag, 128)
	for i := range many {
		many[i] = Tag{fmt.Sprintf("T-%d", i), fmt.Sprintf("v%d", i)}
	}
	variants := []struct {
		name           string
		target, anchor string
		tags           []Tag
		data           []byte
	}{
		{"bare", "", "", nil, nil},
		{"ao-message", testTarget, "00000000000000000000000000000001", []Tag{{"Data-Protocol", "ao"}, {"Variant", "ao.TN.1"}, {"Type", "Message"}, {"Action", "Eval"}}, []byte("return 1")},
		{"unicode", "", strings.Repeat("z", 32), []Tag{{"ñame", "värde 🚀"}, {"Empty", ""}, {"Long", strings.Repeat("é", 200)}}, []byte("ünïcødé")},
		{"128-tags", testTarget, "", many, []byte{0, 1, 2, 3}},
		{"max-value", "", "", []Tag{{"Big", strings.Repeat("v", MaxTagValueBytes)}}, make([]byte, 50000)},
		{"max-name", "", "", []Tag{{strings.Repeat("N", MaxTagNameBytes), "x"}}, []byte("n")},
	}
	var bundleItems []*DataItem
	for sname, s := range signers(t) {
		for _, v := range variants {
			d, err := NewDataItem(v.data, v.target, v.anchor, v.tags)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Sign(s); err != nil {
				t.Fatal(err)
			}
			write(sname+"-"+v.name, d, true)
			if v.name == "ao-message" {
				bundleItems = append(bundleItems, d)
			}
		}
		// A tampered copy: the reference must reject it.
		d, _ := NewDataItem([]byte("original"), "", "", []Tag{{"A", "b"}})
		if err := d.Sign(s); err != nil {
			t.Fatal(err)
		}
		d.Data = []byte("tampered")
		write(sname+"-tampered", d, false)
	}
	bundle, err := BuildBundle(bundleItems)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mixed.bundle"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}

	results := runReference(t, dir)
	seen := 0
	for _, r := range results {
		switch r.Kind {
		case "item":
			w, ok := want[r.File]
			if !ok {
				t.Errorf("reference reported an unknown file %s", r.File)
				continue
			}
			seen++
			t.Run(r.File, func(t *testing.T) {
				if r.Valid != w.valid || r.ValidDha != w.valid {
					t.Fatalf("arbundles verify = %v, @dha-team/arbundles verify = %v, want %v (%s)", r.Valid, r.ValidDha, w.valid, r.Error)
				}
				if !w.valid {
					return
				}
				checkItem(t, w.item, r.itemVector)
				if r.SignatureType == SigTypeArweave && (r.PSSSaltLength == nil || *r.PSSSaltLength != RSASaltLength) {
					t.Errorf("reference found salt length %v, want %d", r.PSSSaltLength, RSASaltLength)
				}
			})
		case "bundle":
			if !r.Valid || len(r.IDs) != len(bundleItems) {
				t.Errorf("bundle: reference valid=%v with %d ids (%s)", r.Valid, len(r.IDs), r.Error)
				continue
			}
			for i, d := range bundleItems {
				if r.IDs[i] != d.ID() || !r.Items[i].Valid {
					t.Errorf("bundle item %d: reference id %s valid %v, want %s", i, r.IDs[i], r.Items[i].Valid, d.ID())
				}
			}
		}
	}
	if seen != len(want) {
		t.Errorf("reference checked %d items, want %d", seen, len(want))
	}
}
