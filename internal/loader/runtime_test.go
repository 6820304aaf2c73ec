package loader

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// The port's DryRun answers what HandleReadOnly answers and keeps nothing; a
// dry-run limit stops a runaway one with ao.ErrEvalTimeout.
func TestRuntimeDryRun(t *testing.T) {
	pr := newProbeRuntime(t)
	p, inst, aoEnv, msg := pr.p, pr.inst, pr.env, pr.msg
	ctx := context.Background()
	if r, err := inst.Handle(ctx, 1, msg("Eval", `Handlers.add('inc', 'Inc', function(m) Count = (Count or 0) + 1; m.reply({Data = tostring(Count)}) end)`), aoEnv, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	before := memHash(p)
	dry := msg("Inc", "")
	dry.ReadOnly = true
	r, err := inst.DryRun(ctx, dry, aoEnv, 5*time.Second)
	if err != nil || r.Failed() || !strings.Contains(string(r.Messages), `"Data":"1"`) {
		t.Fatalf("dry-run %v %+v messages %s output %s", err, r, r.Messages, r.Output)
	}
	if memHash(p) != before {
		t.Fatal("a dry-run changed the memory")
	}
	_, err = inst.DryRun(ctx, msg("Eval", "while true do end"), aoEnv, 100*time.Millisecond)
	if !errors.Is(err, ao.ErrEvalTimeout) {
		t.Fatalf("runaway dry-run = %v", err)
	}
	if memHash(p) != before {
		t.Fatal("a stopped dry-run changed the memory")
	}
}

// What the reference CU records as the Error of a rejection: handle()'s
// thrown response as it is, JSON.stringify of anything else the loader or the
// glue throws ({} for Error objects, the ExitStatus object, null for the
// glue's longjmp Infinity).
func TestRejectionAsTheCURecordsIt(t *testing.T) {
	thrownResponse, _ := parseResponse(`{"ok":false,"response":{"message":"custom"}}`, 0, false)
	typeError, _ := parseResponse(`{"ok":true}`, 0, false)
	exit := &Result{Rejected: true}
	if te, ok := (&instance{pending: &exitError{3}}).classify(errors.New("trap")).(*trapError); ok {
		exit = rejected(te.msg)
		exit.Thrown = te.thrown
	}
	longjmp := &Result{Rejected: true}
	if te, ok := (&instance{pending: errLongjmp}).classify(errors.New("trap")).(*trapError); ok {
		longjmp = rejected(te.msg)
		longjmp.Thrown = te.thrown
	}
	for _, c := range []struct {
		name string
		r    *Result
		want string
	}{
		{"thrown response", thrownResponse, `{"message":"custom"}`},
		{"the loader's TypeError", typeError, `{}`},
		{"exit(3)", exit, `{"name":"ExitStatus","message":"Program terminated with exit(3)","status":3}`},
		{"longjmp", longjmp, `null`},
	} {
		if got := toAO(c.r); string(got.Error) != c.want || !got.Rejected {
			t.Errorf("%s: Error %s, want %s", c.name, got.Error, c.want)
		}
	}
}

// probeRuntime is an aos2_0_6 process spawned with the probe scenario's first
// message, behind the runtime port, and a message maker for it.
type probeRuntime struct {
	p    *Process
	inst *runtimeInstance
	env  *ao.Env
	msg  func(action, data string) *ao.Message
}

func newProbeRuntime(t *testing.T) *probeRuntime {
	t.Helper()
	m := module(t, aos64)
	envRaw, msgs := scenario(t, "probe", aos64)
	var env struct {
		Process, Module struct {
			Id, Owner string
			Tags      []ao.Tag
		}
	}
	if err := json.Unmarshal(envRaw, &env); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, m, ProcessOptions{}, envRaw, msgs[:1])
	return &probeRuntime{p: p, inst: &runtimeInstance{p: p},
		env: &ao.Env{Process: ao.EnvEntity{ID: env.Process.Id, Owner: env.Process.Owner, Tags: env.Process.Tags},
			Module: ao.EnvEntity{ID: env.Module.Id, Owner: env.Module.Owner, Tags: env.Module.Tags}},
		msg: func(action, data string) *ao.Message {
			return &ao.Message{ID: json.RawMessage(`"M1"`), Owner: env.Process.Owner, From: env.Process.Owner, Target: json.RawMessage(`"` + env.Process.Id + `"`),
				Data: json.RawMessage(`"` + data + `"`), Tags: []ao.Tag{{Name: "Action", Value: action}}, Timestamp: 1700000000000, BlockHeight: 1}
		},
	}
}
