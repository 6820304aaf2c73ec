package engine

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
)

// A page with a gap (also of its first edge, the process itself), a reorder, a repeated message, a timestamp going back
// or a broken hash chain (below block 1,440,000, where the reference checks
// nothing) is refused with a 502 naming the SU, the process and the nonce;
// nothing of it is evaluated or stored; once the SU is healthy the next
// request computes the right results.
func TestBadPagesAreRefused(t *testing.T) {
	faults := map[string]func(p *ao.SUPage){
		"gap":        func(p *ao.SUPage) { p.Edges = append(p.Edges[:2], p.Edges[3:]...) },
		"first-gap":  func(p *ao.SUPage) { p.Edges = p.Edges[1:] }, // a cold start without the process's own edge
		"reorder":    func(p *ao.SUPage) { p.Edges[2], p.Edges[3] = p.Edges[3], p.Edges[2] },
		"duplicate":  func(p *ao.SUPage) { p.Edges = append(p.Edges[:3], p.Edges[2:]...) },
		"time":       func(p *ao.SUPage) { setTag(&p.Edges[3], "Timestamp", "1") },
		"hash-chain": func(p *ao.SUPage) { setTag(&p.Edges[3], "Hash-Chain", aotest.NewID("forged")) },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			cu := newTestCU(t, nil, nil)
			pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
			var ids []string
			for i := range 5 {
				ids = append(ids, cu.w.Send(pid, strings.Repeat("v", i+1)))
			}
			cu.w.Scheduler.SetPageHook(func(_ string, p *ao.SUPage) {
				if len(p.Edges) >= 5 {
					p.Edges = append([]ao.SUEdge(nil), p.Edges...)
					for i := range p.Edges {
						p.Edges[i].Assignment.Tags = append([]ao.Tag(nil), p.Edges[i].Assignment.Tags...)
					}
					fault(p)
				}
			})
			_, err := cu.e.ReadResult(ctxT(t), pid, ids[4], 0)
			if ao.StatusOf(err) != 502 || !strings.Contains(err.Error(), aotest.SUURL) || !strings.Contains(err.Error(), pid) ||
				!strings.Contains(err.Error(), "at nonce") {
				t.Fatalf("bad page = %v, want 502 naming the SU, the process and the nonce", err)
			}
			if n := cu.w.Runtime.Counts().Handled; n != 0 {
				t.Fatalf("%d messages of the bad page were evaluated", n)
			}
			rows, _ := cu.store.Evaluations(ctxT(t), ao.RangeQuery{ProcessID: pid, After: pid + ",", Through: pid + ",\U0010FFFF", Limit: 100})
			if len(rows) != 0 {
				t.Fatalf("%d results stored from the bad page", len(rows))
			}
			cu.w.Scheduler.SetPageHook(nil)
			for i, id := range ids {
				want := strconv.Itoa(i+2) + ":" + strings.Repeat("v", i+1)
				if got := cu.result(pid, id).Output.Data; got != want {
					t.Fatalf("after recovery, result %d = %q, want %q", i, got, want)
				}
			}
		})
	}
}

func setTag(e *ao.SUEdge, name, value string) {
	for i := range e.Assignment.Tags {
		if e.Assignment.Tags[i].Name == name {
			e.Assignment.Tags[i].Value = value
		}
	}
}
