package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/schedule"
)

func hasAction(tags []ao.Tag, action string) bool {
	for _, t := range tags {
		if t.Name == "Action" && t.Value == action {
			return true
		}
	}
	return false
}

// resetMemory is the reference's ENABLE_MEMORY_RESET: a message with
// Action: Reset-Memory signed by the process owner is not evaluated; the
// process's instance is dropped, a fresh one evaluates the process message
// again (rebuilt from the SU's first edge as the reference builds it:
// From is the owner, no Forwarded-By, the SU's tags as they are), and that
// result is the Reset-Memory message's result. Later messages run on the
// fresh memory. Caller holds p.lock.
func (st *streamState) resetMemory(ctx context.Context, m *schedule.Message) (*ao.Result, error) {
	e, p, meta := st.e, st.p, st.meta
	page, err := e.opts.Scheduler.Messages(ctx, meta.suURL, p.id, "", "", 1)
	if err != nil {
		return nil, fmt.Errorf("reset memory of process %s: load its process message: %w", p.id, err)
	}
	if len(page.Edges) == 0 || page.Edges[0].Message == nil {
		return nil, ao.Errorf(502, "reset memory of process %s: the scheduler %s did not return its process message", p.id, meta.suURL)
	}
	edge := page.Edges[0]
	at := func(name string) string { v, _ := ao.TagValue(edge.Assignment.Tags, name); return v }
	num := func(name string) float64 { n, _ := schedule.ParseIntJS(at(name)); return float64(n) }
	pm := edge.Message
	owner := pm.Owner.Address
	tags := pm.Tags
	if tags == nil {
		tags = []ao.Tag{}
	}
	init := &ao.Message{
		ID: schedule.JSString(p.id), Signature: schedule.Restringify(pm.Signature), Data: schedule.Restringify(pm.Data), Owner: owner,
		Target: schedule.JSString(p.id), Anchor: schedule.Restringify(pm.Anchor), From: owner, Tags: tags,
		Epoch: []byte("0"), Nonce: []byte("0"), Timestamp: num("Timestamp"), BlockHeight: num("Block-Height"),
	}
	if hc, ok := ao.TagValue(edge.Assignment.Tags, "Hash-Chain"); ok {
		init.HashChain = schedule.JSString(hc)
	}
	inst, err := meta.mod.Instantiate(ctx, ao.InstanceOptions{GasLimit: float64(meta.computeLimit)})
	if err != nil {
		return nil, fmt.Errorf("reset memory of process %s: %w", p.id, err)
	}
	st.stream = e.streams.Add(1) // a new instance: a new stream
	res, err := inst.Handle(ctx, st.stream, init, meta.env, e.opts.MessageTimeout)
	if err != nil && !errors.Is(err, ao.ErrEvalTimeout) {
		inst.Close()
		return nil, err
	}
	e.log.Info("process memory reset by its owner (Action: Reset-Memory)", "process", p.id, "message", m.Name)
	p.closeInstance()
	p.inst = inst
	p.acct.setLive(p, true)
	return res, err
}
