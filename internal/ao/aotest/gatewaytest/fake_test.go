package gatewaytest_test

import (
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/ao/aotest/gatewaytest"
)

// fake is the suite's harness on aotest's World.
type fake struct {
	w    *aotest.World
	n    int
	last ao.Block
}

func (f *fake) Gateway() ao.Gateway      { return f.w.Gateway }
func (f *fake) SUURL() string            { return aotest.SUURL }
func (f *fake) SchedulerAddress() string { return aotest.SUOwner.Address }

func (f *fake) Upload(t *testing.T, data []byte, target, anchor string, tags []ao.Tag) gatewaytest.Item {
	f.n++
	it := aotest.Item{ID: aotest.NewID("upload", f.n), Owner: aotest.Owner, Tags: tags, Data: data, Target: target, Anchor: anchor}
	it.Signature = "sig-" + it.ID
	f.w.Gateway.Put(it)
	return gatewaytest.Item{ID: it.ID, Owner: it.Owner, Tags: tags, Target: target, Anchor: anchor}
}

func (f *fake) Spawn(t *testing.T) gatewaytest.Item {
	id := f.w.Spawn(f.w.PublishModule(nil), "process")
	m, err := f.w.Gateway.TransactionMeta(t.Context(), id, false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.Item{ID: id, Owner: m.Owner, Tags: m.Tags}
}

func (f *fake) Mine(t *testing.T, d time.Duration) {
	f.last = ao.Block{Height: f.last.Height + 1, Timestamp: f.last.Timestamp + max(d, time.Second).Milliseconds()/1000*1000}
	f.w.Gateway.AddBlock(f.last)
}

func TestFakeGateway(t *testing.T) {
	gatewaytest.Run(t, func(t *testing.T) gatewaytest.Harness {
		return &fake{w: aotest.NewWorld(nil), last: ao.Block{Height: 1000, Timestamp: 1_700_000_000_000}}
	})
}
