package aotest

import (
	"fmt"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// Owner is the default signer of the world's items.
var Owner = ao.Owner{Address: NewID("owner-address"), Key: "owner-key"}

// MU is the signer of pushed messages (the Messenger Unit).
var MU = ao.Owner{Address: NewID("mu-address"), Key: "mu-key"}

// World is one ao network in memory: a clock, an SU, a gateway and a
// runtime, and helpers that publish modules, spawn processes and schedule
// messages consistently on the SU and the gateway.
type World struct {
	Clock     *Clock
	Scheduler *Scheduler
	Gateway   *Gateway
	Runtime   *Runtime

	mu  sync.Mutex
	seq int
}

// NewWorld makes a world whose modules run h (Script if nil). The clock
// starts at 2024-01-01.
func NewWorld(h Handler) *World {
	c := NewClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	return &World{Clock: c, Scheduler: NewScheduler(c), Gateway: NewGateway(SUURL), Runtime: NewRuntime(h)}
}

func (w *World) id(kind string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return NewID(kind, w.seq)
}

// ModuleTags are the tags of a published aos module.
func ModuleTags() []ao.Tag {
	return []ao.Tag{
		{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Module"},
		{Name: "Module-Format", Value: "wasm64-unknown-emscripten-draft_2024_02_15"},
		{Name: "Input-Encoding", Value: "JSON-1"}, {Name: "Output-Encoding", Value: "JSON-1"},
		{Name: "Memory-Limit", Value: "1-gb"}, {Name: "Compute-Limit", Value: "9000000000000"},
	}
}

// PublishModule puts a module on the gateway: wasm bytes (a wasm header if
// nil) with ModuleTags, overridden or extended by tags.
func (w *World) PublishModule(wasm []byte, tags ...ao.Tag) string {
	if wasm == nil {
		wasm = []byte("\x00asm\x01\x00\x00\x00")
	}
	id := w.id("module")
	w.Gateway.Put(Item{ID: id, Owner: Owner, Tags: merge(ModuleTags(), tags), Data: wasm, Signature: "sig-" + id})
	return id
}

// Spawn publishes and schedules a process of module; tags extend or
// override the process's defaults.
func (w *World) Spawn(module string, data string, tags ...ao.Tag) string {
	id := w.id("process")
	base := []ao.Tag{{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Process"},
		{Name: "Module", Value: module}, {Name: "Scheduler", Value: SUOwner.Address}, {Name: "Authority", Value: MU.Address}}
	it := Item{ID: id, Owner: Owner, Tags: merge(base, tags), Data: []byte(data), Signature: "sig-" + id}
	w.Gateway.Put(it)
	w.Scheduler.mu.Lock()
	defer w.Scheduler.mu.Unlock()
	if err := w.Scheduler.addProcess(it); err != nil {
		panic(err)
	}
	return id
}

// Send schedules a message signed by Owner to pid and returns its id.
func (w *World) Send(pid, data string, tags ...ao.Tag) string {
	it := Item{ID: w.id("message"), Owner: Owner, Target: pid, Tags: merge([]ao.Tag{{Name: "Data-Protocol", Value: "ao"},
		{Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Message"}}, tags), Data: []byte(data)}
	it.Signature = "sig-" + it.ID
	return w.schedule(pid, it)
}

// Push schedules a message that the MU pushed from process from (it carries
// From-Process and is signed by the MU); anchor makes copies distinct.
func (w *World) Push(pid, from, data, anchor string, tags ...ao.Tag) string {
	it := Item{ID: w.id("pushed"), Owner: MU, Target: pid, Anchor: anchor, Tags: merge([]ao.Tag{{Name: "Data-Protocol", Value: "ao"},
		{Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Message"}, {Name: "From-Process", Value: from}}, tags), Data: []byte(data)}
	it.Signature = "sig-" + it.ID
	return w.schedule(pid, it)
}

// Schedule schedules an item as it is (e.g. the same pushed item twice).
func (w *World) Schedule(pid string, it Item) string { return w.schedule(pid, it) }

func (w *World) schedule(pid string, it Item) string {
	w.Gateway.Put(it)
	w.Scheduler.mu.Lock()
	defer w.Scheduler.mu.Unlock()
	if _, err := w.Scheduler.schedule(pid, &it, "", nil); err != nil {
		panic(err)
	}
	return it.ID
}

// Publish puts an item on the gateway only (for an assignment).
func (w *World) Publish(target, data string, tags ...ao.Tag) string {
	it := Item{ID: w.id("item"), Owner: Owner, Target: target, Tags: tags, Data: []byte(data), Anchor: "anchor"}
	it.Signature = "sig-" + it.ID
	w.Gateway.Put(it)
	return it.ID
}

// Assign schedules an existing item to pid, without the parts in exclude
// (Data, Tags, Signature, Anchor).
func (w *World) Assign(pid, itemID string, exclude ...string) {
	w.Scheduler.mu.Lock()
	defer w.Scheduler.mu.Unlock()
	if _, err := w.Scheduler.schedule(pid, nil, itemID, exclude); err != nil {
		panic(err)
	}
}

// Tag is a shorthand for ao.Tag.
func Tag(name, value string) ao.Tag { return ao.Tag{Name: name, Value: value} }

// Action is the tag Action=v.
func Action(v string) ao.Tag { return Tag("Action", v) }

// merge overrides base's tags by name with tags' values and appends the
// rest in order (repeated names, such as several Cron-Interval, included).
func merge(base, tags []ao.Tag) []ao.Tag {
	out := append([]ao.Tag(nil), base...)
	for _, t := range tags {
		found := false
		for i := range base {
			if out[i].Name == t.Name {
				out[i].Value, found = t.Value, true
				break
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	return out
}

// String describes the world, for failure messages.
func (w *World) String() string {
	return fmt.Sprintf("aotest world at %d ms", w.Clock.Now())
}
