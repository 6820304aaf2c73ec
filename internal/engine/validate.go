package engine

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
)

// validatedCheckpoint is the reference's findLatestVerified: newestFirst are
// more than Steps+Retries candidate checkpoints. For i = 0..Retries-1, the
// window of Steps consecutive checkpoints ending i before the newest is
// replayed from its oldest: each checkpoint's memory is evaluated up to the
// next one's timestamp and compared with the next one's memory. When the
// matches divided by Steps reach Thresh, the window's newest checkpoint is
// the starting point, with the replayed memory. Without a verified window
// there is none (a cold start), as in the reference. Unlike the reference,
// every downloaded memory is also checked against its SHA-256 tag.
func (e *Engine) validatedCheckpoint(ctx context.Context, p *proc, meta *procMeta, newestFirst []ao.CheckpointTx) ([]byte, *position) {
	cp := e.cp()
	n := len(newestFirst)
	oldestFirst := make([]ao.CheckpointTx, n)
	for i, tx := range newestFirst {
		oldestFirst[n-1-i] = tx
	}
	for i := 0; i < cp.ValidationRetries; i++ {
		window := oldestFirst[n-cp.ValidationSteps-i : n-i]
		cur := window[0]
		mem, err := e.fetchCheckpointTx(ctx, cur)
		if err != nil {
			e.log.Warn("checkpoint validation: checkpoint refused", "process", p.id, "tx", cur.ID, "err", err)
			continue
		}
		correct := 0
		for _, next := range window[1:] {
			replayed, err := e.replay(ctx, p, meta, mem, checkpointPosition(cur.Tags), checkpointPosition(next.Tags).Timestamp)
			if err != nil {
				e.log.Warn("checkpoint validation: replay failed", "process", p.id, "from", cur.ID, "to", next.ID, "err", err)
				break
			}
			want, err := e.fetchCheckpointTx(ctx, next)
			if err == nil && bytes.Equal(replayed, want) {
				correct++
			}
			mem, cur = replayed, next
		}
		if float64(correct)/float64(cp.ValidationSteps) >= cp.ValidationThresh {
			e.log.Info("checkpoint validated by replay", "process", p.id, "tx", cur.ID, "votes", correct, "steps", cp.ValidationSteps)
			return mem, checkpointPosition(cur.Tags)
		}
		e.log.Warn("checkpoint window not validated", "process", p.id, "tx", cur.ID, "votes", correct, "steps", cp.ValidationSteps)
	}
	return nil, nil
}

func (e *Engine) fetchCheckpointTx(ctx context.Context, tx ao.CheckpointTx) ([]byte, error) {
	enc, _ := ao.TagValue(tx.Tags, "Content-Encoding")
	sha, _ := ao.TagValue(tx.Tags, "SHA-256")
	return e.fetchCheckpoint(ctx, tx.ID, enc, sha)
}

// replay evaluates the process from mem at pos up to the timestamp to, on a
// throwaway instance, storing nothing, and returns the memory there.
func (e *Engine) replay(ctx context.Context, p *proc, meta *procMeta, mem []byte, pos *position, to int64) ([]byte, error) {
	inst, err := meta.mod.Instantiate(ctx, ao.InstanceOptions{Memory: mem, GasLimit: float64(meta.computeLimit)})
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	tp := &proc{id: p.id, lock: make(chan struct{}, 1), meta: meta, inst: inst, pos: *pos, replayOnly: true}
	defer tp.closeInstance()
	if _, err := e.runStream(ctx, tp, target{Timestamp: to}, ""); err != nil {
		return nil, err
	}
	return append([]byte(nil), tp.inst.Memory()...), nil
}
