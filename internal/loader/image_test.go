package loader

import (
	"bytes"
	"context"
	"testing"

	"github.com/aocu/aocu/internal/memimage"
)

// A process restored from a compact image holds the same memory as one
// restored from the raw memory, evaluates the next messages to the same
// memory, and its own compact image (which reads only the pages the kernel
// backed) decodes to its memory, as a cold process's does.
func TestCompactImageRestoreAndEncode(t *testing.T) {
	for _, f := range []fixture{aos64, aos32} {
		t.Run(f.name, func(t *testing.T) {
			m := module(t, f)
			env, msgs := scenario(t, "probe", f)
			cold := startProcess(t, m, ProcessOptions{}, env, msgs[:3])
			defer cold.Close()
			raw := bytes.Clone(cold.Memory())
			img, err := cold.CompactImage()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := memimage.Decode(img, 0); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("a cold process's compact image does not decode to its memory: %v", err)
			}
			if len(img) > len(raw)/20 {
				t.Fatalf("compact image of %d bytes for a %d-byte memory", len(img), len(raw))
			}
			fromRaw, err := m.NewProcess(context.Background(), ProcessOptions{Memory: raw})
			if err != nil {
				t.Fatal(err)
			}
			defer fromRaw.Close()
			fromImg, err := m.NewProcess(context.Background(), ProcessOptions{Memory: img})
			if err != nil {
				t.Fatal(err)
			}
			defer fromImg.Close()
			if !fromImg.anonymous {
				t.Fatal("a restored instance's memory is not known to be anonymous: CompactImage would read every page")
			}
			if !bytes.Equal(fromImg.Memory(), raw) || !bytes.Equal(fromRaw.Memory(), raw) {
				t.Fatal("a restored memory differs from the image")
			}
			// A dry-run that writes much is rolled back in place to the image.
			dry := evalMsg(t, msgs[1], "DRY", 59, "KV = KV or {}; KV.z = string.rep('q', 300000); return #KV.z")
			instBefore := fromImg.inst
			if r, err := fromImg.HandleReadOnly(context.Background(), dry, env); err != nil || r.Failed() {
				t.Fatalf("dry-run: %v %+v", err, r)
			}
			if fromImg.inst != instBefore {
				t.Fatal("the dry-run's rollback built a new instance instead of resetting it in place")
			}
			if !bytes.Equal(fromImg.Memory(), raw) {
				t.Fatal("a dry-run changed the memory of a restored process")
			}
			for i, code := range []string{"KV = KV or {}; KV.x = string.rep('y', 100000); return #KV.x", "return KV.x and #KV.x or 0"} {
				msg := evalMsg(t, msgs[1], "AFTER"+string(rune('0'+i)), 60+i, code)
				r1, err1 := fromRaw.Handle(context.Background(), msg, env)
				r2, err2 := fromImg.Handle(context.Background(), msg, env)
				if err1 != nil || err2 != nil || r1.Failed() || !bytes.Equal(r1.Output, r2.Output) {
					t.Fatalf("message %d: %v %v %s / %s", i, err1, err2, r1.Output, r2.Output)
				}
				if memHash(fromRaw) != memHash(fromImg) {
					t.Fatalf("message %d: memories differ after restoring from raw and from the compact image", i)
				}
			}
			again, err := fromImg.CompactImage()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := memimage.Decode(again, 0); err != nil || !bytes.Equal(got, fromImg.Memory()) {
				t.Fatalf("a restored process's compact image does not decode to its memory: %v", err)
			}
		})
	}
}

// On a cold-started process (its memory as the runtime maps it: the data
// segments from a file image, the rest anonymous), the pages the kernel
// reports as never backed are exactly zero, so scans may skip them; a few
// pages with data (a Lua table of distinct strings) are all reported.
func TestTouchedPagesOfAFreshInstance(t *testing.T) {
	pr := newProbeRuntime(t)
	p := pr.p
	if p.anonymous {
		t.Fatal("a cold-started process is not restored memory")
	}
	ctx := context.Background()
	if r, err := pr.inst.Handle(ctx, 1, pr.msg("Eval", `T = {}; for i = 1, 20000 do T[i] = 'value ' .. i end`), pr.env, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	mem := p.Memory()
	touched := p.touched(mem)
	if touched == nil {
		t.Fatal("the kernel's page information was not read")
	}
	skipped, data := 0, 0
	for page := 0; page*copyPage < len(mem); page++ {
		b := mem[page*copyPage : min((page+1)*copyPage, len(mem))]
		if !touched(page) {
			skipped++
			if !isZero(b) {
				t.Fatalf("page %d holds data but is reported as never backed", page)
			}
		} else if !isZero(b) {
			data++
		}
	}
	if skipped == 0 || data == 0 {
		t.Fatalf("%d pages skipped, %d with data: the scan reads everything or nothing", skipped, data)
	}
	t.Logf("%d pages: %d skipped (zero, never backed), %d with data", len(mem)/copyPage, skipped, data)
}

// A process's memory compared with a base image without a page image (what
// the engine parks a process with while it is close to its base) makes the
// delta its page image makes, byte for byte: after a message to a real aos
// process (Lua's collector touches most of its heap's pages; the words that
// differ are few).
func TestDiffMemoryOfAProcessIsTheDeltaOfItsPageImage(t *testing.T) {
	pr := newProbeRuntime(t)
	p := pr.p
	ctx := context.Background()
	if r, err := pr.inst.Handle(ctx, 1, pr.msg("Eval", `T = {}; for i = 1, 2000 do T[i] = 'value ' .. i end`), pr.env, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	base := memimage.NewBase(p.PageImage())
	if r, err := pr.inst.Handle(ctx, 2, pr.msg("Eval", `T[7] = 'changed'`), pr.env, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	enc, err := memimage.NewEncoder(1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	im := p.PageImage()
	d := p.DiffMemory(base)
	if d.DataBytes() != im.DataBytes() || d.DeltaBytes() != memimage.DiffImage(im, base).DeltaBytes() || d.DeltaBytes() == 0 || d.DeltaBytes() > d.DataBytes()/4 {
		t.Fatalf("data %d, delta %d bytes; the page image's: %d, %d (want a few words changed)", d.DataBytes(), d.DeltaBytes(), im.DataBytes(), memimage.DiffImage(im, base).DeltaBytes())
	}
	want, delta := enc.EncodeAgainst(im, base)
	got, ok := enc.EncodeDiff(d)
	if !ok || !delta || !bytes.Equal(got, want) {
		t.Fatalf("EncodeDiff: %d bytes (%v); EncodeAgainst of the page image: %d bytes (%v)", len(got), ok, len(want), delta)
	}
	t.Logf("%d bytes of pages; delta ranges %d bytes, compressed %d", d.DataBytes(), d.DeltaBytes(), len(got))
}
