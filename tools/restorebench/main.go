// Command restorebench measures bringing an idle aos process back to a live
// instance from disk: from a raw memory file (the reference's format and
// aocu's before compact images), from a compact image (package memimage), and
// the bare read of the raw file, in one run on the same memory. Also from a
// delta image against the image of another process of the module (what the
// engine keeps for idle processes), also onto a recycled instance (what the
// engine restores a process onto when another was parked). Every restored
// memory is compared with the original.
//
//	go run ./tools/restorebench --module .fixtures/modules/aos2_0_6.wasm [--n 30]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/loader"
	"github.com/aocu/aocu/internal/memimage"
)

func main() {
	module := flag.String("module", ".fixtures/modules/aos2_0_6.wasm", "aos module (wasm64)")
	envPath := flag.String("env", "tools/refloader/scenarios/probe/env-wasm64.json", "env JSON")
	n := flag.Int("n", 30, "restores of each kind")
	flag.Parse()
	if err := run(*module, *envPath, *n); err != nil {
		fmt.Fprintln(os.Stderr, "restorebench:", err)
		os.Exit(1)
	}
}

func run(module, envPath string, n int) error {
	ctx := context.Background()
	wasm, err := os.ReadFile(module)
	if err != nil {
		return err
	}
	eng, err := loader.NewEngine(loader.EngineConfig{CacheDir: filepath.Join(os.TempDir(), "aocu-restorebench")})
	if err != nil {
		return err
	}
	defer eng.Close()
	rt := loader.NewRuntime(eng, nil, nil)
	mod, err := rt.Compile(ctx, wasm, ao.FormatWasm64)
	if err != nil {
		return err
	}
	// The env of the reference loader's scenarios (tools/refloader/scenarios).
	var e struct {
		Process, Module struct {
			Id, Owner string
			Tags      []ao.Tag
		}
	}
	b, err := os.ReadFile(envPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	env := &ao.Env{Process: ao.EnvEntity{ID: e.Process.Id, Owner: e.Process.Owner, Tags: e.Process.Tags},
		Module: ao.EnvEntity{ID: e.Module.Id, Owner: e.Module.Owner, Tags: e.Module.Tags}}
	pid, owner := e.Process.Id, e.Process.Owner
	// A process of the same module with another id: the base of the deltas.
	other := []byte(pid)
	other[0] ^= 1
	otherEnv := *env
	otherEnv.Process.ID = string(other)
	baseMem, err := boot(ctx, mod, string(other), owner, e.Process.Tags, &otherEnv)
	if err != nil {
		return err
	}
	mem, err := boot(ctx, mod, pid, owner, e.Process.Tags, env)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "restorebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	raw, compact, deltaFile := filepath.Join(dir, "raw.dat"), filepath.Join(dir, "compact.dat"), filepath.Join(dir, "delta.dat")
	start := time.Now()
	img, err := memimage.Encode(mem)
	if err != nil {
		return err
	}
	encode := time.Since(start)
	base := memimage.NewBase(memimage.FromMemory(baseMem))
	start = time.Now()
	delta, isDelta, err := memimage.EncodeAgainst(memimage.FromMemory(mem), base)
	if err != nil {
		return err
	}
	if !isDelta {
		return errors.New("the image is not smaller as a delta against another process's")
	}
	deltaEncode := time.Since(start)
	if err := os.WriteFile(raw, mem, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(compact, img, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(deltaFile, delta, 0o600); err != nil {
		return err
	}
	// A restore reads the file and gives the memory to a new instance, which
	// checks nothing more: the same work as the engine's load of a drained
	// process. readOnly only reads the raw file (the floor of today's path).
	// recycle: onto the instance of the previous such restore, recycled as
	// the engine recycles a parked process's (ao.Recycler).
	var recycled ao.Fork
	defer func() {
		if recycled != nil {
			recycled.Close()
		}
	}()
	restore := func(path string, readOnly, recycle bool) (time.Duration, error) {
		start := time.Now()
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		if readOnly {
			return time.Since(start), nil
		}
		o := ao.InstanceOptions{Memory: b}
		if memimage.IsDelta(b) {
			o.Base = base
		}
		if recycle {
			o.Reuse, recycled = recycled, nil
		}
		i, err := mod.Instantiate(ctx, o)
		if err != nil {
			return 0, err
		}
		d := time.Since(start)
		if !bytes.Equal(i.Memory(), mem) {
			return 0, fmt.Errorf("%s: the restored memory differs", path)
		}
		if r, ok := i.(ao.Recycler); ok && recycle {
			recycled = r.Recycle()
			return d, nil
		}
		i.Close()
		return d, nil
	}
	// A dry-run on an idle process loads its image into a recycled scratch
	// fork (ao.ImageForker): the file read and the load, then (checked once
	// below) the same answer as the restored instance's.
	forker, ok := mod.(ao.ImageForker)
	if !ok {
		return errors.New("the loader's module makes no scratch forks")
	}
	var scratch ao.Fork
	defer func() {
		if scratch != nil {
			scratch.Close()
		}
	}()
	loadScratch := func(path string) (time.Duration, error) {
		start := time.Now()
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		o := ao.InstanceOptions{Memory: b}
		if memimage.IsDelta(b) {
			o.Base = base
		}
		f, err := forker.ForkImage(ctx, o, scratch)
		if err != nil {
			scratch = nil
			return 0, err
		}
		scratch = f
		return time.Since(start), nil
	}
	live, err := memimage.Parse(img, 0)
	if err != nil {
		return err
	}
	out := map[string]any{"memoryBytes": len(mem), "compactBytes": len(img), "nonZeroBytes": live.DataBytes(), "encodeMs": ms(encode),
		"deltaBytes": len(delta), "deltaEncodeMs": ms(deltaEncode)}
	kinds := []struct {
		name, path        string
		readOnly, recycle bool
	}{{"rawRead", raw, true, false}, {"raw", raw, false, false}, {"compact", compact, false, false}, {"delta", deltaFile, false, false},
		{"recycledDelta", deltaFile, false, true}, {"scratchFork", compact, false, false}, {"scratchForkDelta", deltaFile, false, false}}
	ds := make([][]time.Duration, len(kinds))
	for range n { // interleaved, so that the kinds see the same machine
		for k, kind := range kinds {
			var d time.Duration
			var err error
			if strings.HasPrefix(kind.name, "scratchFork") {
				d, err = loadScratch(kind.path)
			} else {
				d, err = restore(kind.path, kind.readOnly, kind.recycle)
			}
			if err != nil {
				return err
			}
			ds[k] = append(ds[k], d)
		}
	}
	{
		data, _ := json.Marshal("return Store['key7'] .. #tostring(Store)")
		probe := &ao.Message{ID: []byte(`"Q"`), Owner: owner, From: owner, Target: []byte(`"` + pid + `"`),
			Data: data, Tags: []ao.Tag{{Name: "Action", Value: "Eval"}}, Timestamp: 1700000000009, BlockHeight: 1, ReadOnly: true}
		in, err := mod.Instantiate(ctx, ao.InstanceOptions{Memory: img})
		if err != nil {
			return err
		}
		want, err := in.DryRun(ctx, probe, env, 0)
		in.Close()
		if err != nil {
			return err
		}
		got, err := scratch.DryRun(ctx, probe, env, 0)
		if err != nil {
			return fmt.Errorf("dry-run on a scratch fork: %w", err)
		}
		if string(got.Output) != string(want.Output) || string(got.Error) != string(want.Error) {
			return fmt.Errorf("a scratch fork answered %s %s, the restored instance %s %s", got.Output, got.Error, want.Output, want.Error)
		}
	}
	// Parking a restored process after a message: its compact image reads
	// only the pages the kernel backed (the loader's CompactImage), or its
	// page image is encoded against the base (the engine's park).
	var encs, deltaEncs []time.Duration
	for i := range n {
		in, err := mod.Instantiate(ctx, ao.InstanceOptions{Memory: img})
		if err != nil {
			return err
		}
		data, _ := json.Marshal(fmt.Sprintf("Store['more%d'] = 'x'", i))
		msg := &ao.Message{ID: []byte(fmt.Sprintf(`"P%d"`, i)), Owner: owner, From: owner, Target: []byte(`"` + pid + `"`),
			Data: data, Tags: []ao.Tag{{Name: "Action", Value: "Eval"}}, Timestamp: float64(1700000100000 + i), BlockHeight: 1}
		if res, err := in.Handle(ctx, 1, msg, env, 0); err != nil || res.Failed() {
			return fmt.Errorf("message after restore: %v", err)
		}
		ci, ok := in.(interface {
			CompactImage() ([]byte, error)
			PageImage() (*memimage.Image, error)
		})
		if !ok {
			return errors.New("the loader's instance makes no compact image")
		}
		start := time.Now()
		b, err := ci.CompactImage()
		if err != nil {
			return err
		}
		encs = append(encs, time.Since(start))
		start = time.Now()
		pi, err := ci.PageImage()
		var d []byte
		if err == nil {
			d, _, err = memimage.EncodeAgainst(pi, base)
		}
		if err != nil {
			return err
		}
		deltaEncs = append(deltaEncs, time.Since(start))
		// (checked after both are timed: the 110 MB decodes would make
		// the GC run in the next timed part)
		if got, err := memimage.Decode(b, 0); err != nil || !bytes.Equal(got, in.Memory()) {
			return fmt.Errorf("the compact image of a restored process differs from its memory: %v", err)
		}
		if got, err := memimage.DecodeWith(d, base, 0); err != nil || !bytes.Equal(got, in.Memory()) {
			return fmt.Errorf("the delta image of a restored process differs from its memory: %v", err)
		}
		in.Close()
	}
	slices.Sort(encs)
	slices.Sort(deltaEncs)
	out["reparkEncodeMedianMs"], out["reparkEncodeP99Ms"] = ms(encs[len(encs)/2]), ms(encs[len(encs)*99/100])
	out["reparkDeltaEncodeMedianMs"], out["reparkDeltaEncodeP99Ms"] = ms(deltaEncs[len(deltaEncs)/2]), ms(deltaEncs[len(deltaEncs)*99/100])
	for k, kind := range kinds {
		slices.Sort(ds[k])
		out[kind.name+"MedianMs"], out[kind.name+"P99Ms"] = ms(ds[k][len(ds[k])/2]), ms(ds[k][len(ds[k])*99/100])
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// boot spawns an aos process pid on a fresh instance, sets a small store
// and returns its memory.
func boot(ctx context.Context, mod ao.CompiledModule, pid, owner string, processTags []ao.Tag, env *ao.Env) ([]byte, error) {
	inst, err := mod.Instantiate(ctx, ao.InstanceOptions{})
	if err != nil {
		return nil, err
	}
	defer inst.Close()
	for i, code := range []string{"", "Store = {}", "for i = 1, 200 do Store['key' .. i] = string.rep('v', 100) .. i end", "return #Store"} {
		data, _ := json.Marshal(code)
		tags := []ao.Tag{{Name: "Action", Value: "Eval"}}
		if i == 0 { // the process message boots aos
			tags = processTags
		}
		msg := &ao.Message{ID: []byte(fmt.Sprintf(`"M%d"`, i)), Owner: owner, From: owner, Target: []byte(`"` + pid + `"`),
			Data: data, Tags: tags, Timestamp: float64(1700000000000 + i), BlockHeight: 1}
		if i == 0 {
			msg.ID = []byte(`"` + pid + `"`)
		}
		res, err := inst.Handle(ctx, 1, msg, env, 0)
		if err != nil {
			return nil, err
		}
		if res.Failed() {
			return nil, fmt.Errorf("message %d failed: %s", i, res.Error)
		}
	}
	return slices.Clone(inst.Memory()), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
