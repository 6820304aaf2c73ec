package schedulertest_test

import (
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/ao/aotest/schedulertest"
)

// fake is the suite's harness on aotest's World.
type fake struct{ w *aotest.World }

func (f fake) Scheduler() ao.Scheduler { return f.w.Scheduler }
func (f fake) URL() string             { return aotest.SUURL }
func (f fake) SUAddress() string       { return aotest.SUOwner.Address }

// item reads back what the world put on its gateway.
func (f fake) item(t *testing.T, id, data string) schedulertest.Item {
	t.Helper()
	m, err := f.w.Gateway.TransactionMeta(t.Context(), id, false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return schedulertest.Item{ID: id, Owner: m.Owner, Tags: m.Tags, Data: data}
}

func (f fake) Spawn(t *testing.T, data string) schedulertest.Item {
	return f.item(t, f.w.Spawn(f.w.PublishModule(nil), data), data)
}

func (f fake) Send(t *testing.T, pid, data string, tags ...ao.Tag) schedulertest.Item {
	return f.item(t, f.w.Send(pid, data, tags...), data)
}

func (f fake) Push(t *testing.T, pid, from, data, anchor string) schedulertest.Item {
	return f.item(t, f.w.Push(pid, from, data, anchor), data)
}

func (f fake) Publish(t *testing.T, data string) schedulertest.Item {
	return f.item(t, f.w.Publish("", data), data)
}

func (f fake) Assign(t *testing.T, pid, id string, exclude ...string) {
	f.w.Assign(pid, id, exclude...)
}

func TestFakeScheduler(t *testing.T) {
	schedulertest.Run(t, func(t *testing.T) schedulertest.Harness { return fake{aotest.NewWorld(nil)} })
}
