package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/schedule"
)

// DryRunRequest is a POST /dry-run.
type DryRunRequest struct {
	ProcessID string
	To        string        // a message id to evaluate to first ("": latest)
	Body      []byte        // the JSON message
	MaxAge    time.Duration // x-max-age: how stale the process state may be
}

// DryRun evaluates a message on the process's latest state (or its state at
// req.To) without keeping anything: the reference's dry-run. cached reports a
// hit of the result cache (the reference does not count those against the
// rate limit).
func (e *Engine) DryRun(ctx context.Context, req DryRunRequest, busy time.Duration) (out []byte, cached bool, err error) {
	if err := e.closed(); err != nil {
		return nil, false, err
	}
	body, err := parseDryRunBody(req.Body)
	if err != nil {
		return nil, false, err
	}
	norm, _ := jsjson.Normalize(req.Body)
	sum := sha256.Sum256([]byte(req.ProcessID + "\x00" + req.To + "\x00" + string(norm)))
	key := hex.EncodeToString(sum[:])
	if out, ok := e.dryResults.get(key, e.opts.DryRunResultMaxAge, e.opts.Now()); ok {
		return out, true, nil
	}
	var t target
	if req.To != "" {
		meta, err := e.messageMeta(ctx, req.ProcessID, req.To)
		if err != nil {
			return nil, false, err
		}
		t = target{Timestamp: meta.Timestamp, Ordinate: strconv.FormatInt(meta.Nonce, 10)}
	} else {
		t = target{latest: true}
	}
	if n := e.dryWait.Add(1); n > int64(e.opts.DryRunMaxQueue) {
		e.dryWait.Add(-1)
		return nil, false, ao.Errorf(429, "Dry-Run enqueue limit exceeded")
	}
	p := e.process(req.ProcessID)
	if err := p.checkFailed(-1); err != nil {
		e.dryWait.Add(-1)
		return nil, false, err
	}
	v, err := e.share(ctx, "dry-run,"+key, busy, func(ctx context.Context) (any, error) {
		defer e.dryWait.Add(-1)
		res, err := e.dryRunOn(ctx, p, t, body, req)
		if err != nil {
			return nil, err
		}
		if e.opts.Observer != nil {
			e.opts.Observer.Evaluated("dry-run", "dry-run", res.Failed())
		}
		out := outputJSON(res, e.opts.HyperBEAM)
		e.dryResults.put(key, out, e.opts.Now())
		return out, nil
	})
	if err != nil {
		return nil, false, err
	}
	return v.([]byte), false, nil
}

// dryRunOn brings p to t (unless its state is fresh enough) and evaluates
// the dry-run: on a fork of the committed state outside the process lock
// when the instance can be forked, else on the instance under the lock.
func (e *Engine) dryRunOn(ctx context.Context, p *proc, t target, body dryRunBody, req DryRunRequest) (*ao.Result, error) {
	var first *specPage
	if t.latest {
		res, page, done, err := e.dryRunIdle(ctx, p, body, req)
		if done {
			return res, err
		}
		first = page
	}
	if err := e.acquireDryRunWorker(ctx); err != nil {
		return nil, err
	}
	defer func() { <-e.dryRun }()
	if err := p.acquire(ctx); err != nil {
		return nil, err
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			e.touched(p)
			p.release()
		}
	}
	defer unlock()
	fresh := t.latest && p.inst != nil && !p.syncedAt.IsZero() && e.opts.Now().Sub(p.syncedAt) <= min(req.MaxAge, e.opts.DryRunProcessCacheTTL)
	if !fresh {
		if _, err := e.runStreamFrom(ctx, p, t, "", first); err != nil {
			return nil, err
		}
	}
	if !t.latest && !t.equalTo(p.pos) && !p.pos.cold {
		return nil, ao.Errorf(425, "message at nonce %s not found cached, and earlier than latest known nonce %s", t.Ordinate, p.pos.Ordinate)
	}
	msg := body.message(req.ProcessID, p.pos)
	if e.opts.HyperBEAM {
		schedule.HyperBEAMDryRun(msg, body.m["Skip"], body.m["Original-Assignment-Id"])
	}
	env := p.meta.env
	pool, img := e.currentImage(p)
	if pool == nil {
		res, err := p.inst.DryRun(ctx, msg, env, e.opts.DryRunTimeout)
		return res, e.dryRunErr(req.ProcessID, err)
	}
	unlock()
	defer img.release()
	f, err := pool.fork(ctx, img)
	if err != nil {
		if ctx.Err() == nil && e.noForks.CompareAndSwap(false, true) {
			e.log.Warn("dry-runs cannot fork the process state here; they run on the processes' instances from now on", "process", req.ProcessID, "err", err)
		}
		return nil, e.dryRunErr(req.ProcessID, err)
	}
	res, err := f.DryRun(ctx, msg, env, e.opts.DryRunTimeout)
	pool.put(f, img)
	return res, e.dryRunErr(req.ProcessID, err)
}

// acquireDryRunWorker takes one of the dry-run workers (release: <-e.dryRun).
func (e *Engine) acquireDryRunWorker(ctx context.Context) error {
	select {
	case e.dryRun <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dryRunErr is what a dry-run's evaluation error answers.
func (e *Engine) dryRunErr(pid string, err error) error {
	if errors.Is(err, ao.ErrEvalTimeout) {
		return ao.Errorf(422, "dry-run on process %s stopped: it ran longer than the dry-run time limit of %v", pid, e.opts.DryRunTimeout)
	}
	if err != nil {
		return fmt.Errorf("dry-run on process %s: %w", pid, err)
	}
	return nil
}

// dryRunBody is a validated dry-run message: every member as its JSON text
// (nil: absent).
type dryRunBody struct {
	m    map[string][]byte
	tags []ao.Tag
}

// parseDryRunBody validates the body as the reference's message schema does
// (with a 400 for what it rejects).
func parseDryRunBody(raw []byte) (dryRunBody, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return dryRunBody{}, ao.Errorf(400, "the dry-run body must be a JSON object (the message)")
	}
	b := dryRunBody{m: map[string][]byte{}}
	var errs []string
	str := func(key string, required, nullable bool) {
		v, ok := m[key]
		switch {
		case !ok:
			if required {
				errs = append(errs, fmt.Sprintf("'%s': Required.", key))
			}
			return
		case string(v) == "null":
			if !nullable {
				errs = append(errs, fmt.Sprintf("'%s': Expected string, received null.", key))
				return
			}
			b.m[key] = []byte("null")
			return
		}
		s, err := jsjson.Unquote(v)
		if err != nil || len(v) == 0 || v[0] != '"' {
			errs = append(errs, fmt.Sprintf("'%s': Expected string.", key))
			return
		}
		if key == "Owner" && s == "" {
			errs = append(errs, "'Owner': String must contain at least 1 character(s).")
			return
		}
		b.m[key] = jsjson.AppendString(nil, s)
	}
	num := func(key string, coerce bool) {
		v, ok := m[key]
		if !ok {
			return
		}
		f, valid := jsNumber(v, coerce)
		if string(v) == "null" && !coerce {
			b.m[key] = []byte("null")
			return
		}
		if !valid {
			errs = append(errs, fmt.Sprintf("'%s': Expected number.", key))
			return
		}
		b.m[key] = jsjson.AppendNumber(nil, f)
	}
	str("Id", false, true)
	str("Signature", false, true)
	if v, ok := m["Data"]; ok {
		b.m["Data"], _ = jsjson.Normalize(v)
	}
	str("Owner", true, false)
	str("Target", false, false)
	str("Anchor", false, true)
	str("Forwarded-By", false, true)
	num("Epoch", false)
	num("Nonce", false)
	num("Timestamp", true)
	num("Block-Height", true)
	str("Hash-Chain", false, true)
	if v, ok := m["Cron"]; ok {
		if string(v) != "true" && string(v) != "false" {
			errs = append(errs, "'Cron': Expected boolean.")
		} else {
			b.m["Cron"] = v
		}
	}
	if v, ok := m["Tags"]; ok {
		var tags []ao.Tag
		var rawTags []map[string]json.RawMessage
		if json.Unmarshal(v, &rawTags) != nil {
			errs = append(errs, "'Tags': Expected array of {name, value}.")
		} else {
			for i, t := range rawTags {
				n, err1 := jsjson.Unquote(t["name"])
				val, err2 := jsjson.Unquote(t["value"])
				if err1 != nil || err2 != nil || t["name"][0] != '"' || t["value"][0] != '"' {
					errs = append(errs, fmt.Sprintf("'Tags.%d': name and value must be strings.", i))
					continue
				}
				tags = append(tags, ao.Tag{Name: n, Value: val})
			}
			if tags == nil {
				tags = []ao.Tag{}
			}
			b.tags = tags
			owner := ""
			if o, ok := b.m["Owner"]; ok {
				owner, _ = jsjson.Unquote(o)
			}
			b.m["From"] = jsjson.AppendString(nil, schedule.MapFrom(tags, owner))
		}
	} else {
		errs = append(errs, "'Tags': Required.")
	}
	if len(errs) > 0 {
		return dryRunBody{}, ao.Errorf(400, "%s", strings.Join(errs, " | "))
	}
	return b, nil
}

// jsNumber reads a JSON number, or with coerce what Number(v) gives.
func jsNumber(v json.RawMessage, coerce bool) (float64, bool) {
	s := string(v)
	if f, err := strconv.ParseFloat(s, 64); err == nil && len(s) > 0 && s[0] != '"' {
		return f, true
	}
	if !coerce {
		return 0, false
	}
	switch s {
	case "null", "false":
		return 0, true
	case "true":
		return 1, true
	}
	str, err := jsjson.Unquote(v)
	if err != nil {
		return 0, false
	}
	str = strings.TrimSpace(str)
	if str == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// message is the dry-run message over the process's position.
func (b dryRunBody) message(pid string, pos position) *ao.Message {
	str := func(key string) string {
		s, _ := jsjson.Unquote(b.m[key])
		return s
	}
	num := func(key string, def int64) float64 {
		if v, ok := b.m[key]; ok {
			f, _ := strconv.ParseFloat(string(v), 64)
			return f
		}
		return float64(def)
	}
	m := &ao.Message{
		ID: b.m["Id"], Signature: b.m["Signature"], Data: b.m["Data"], Owner: str("Owner"), Target: b.m["Target"],
		Anchor: b.m["Anchor"], From: str("From"), ForwardedBy: b.m["Forwarded-By"], Tags: b.tags, Epoch: b.m["Epoch"],
		Nonce: b.m["Nonce"], Timestamp: num("Timestamp", pos.Timestamp), BlockHeight: num("Block-Height", pos.BlockHeight),
		HashChain: b.m["Hash-Chain"], Cron: string(b.m["Cron"]) == "true", ReadOnly: true,
	}
	if m.Target == nil {
		m.Target = jsjson.AppendString(nil, pid)
	}
	return m
}
