package servecmd

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/hbclient"
	"github.com/aocu/aocu/internal/hbuhttp"
)

// hbUnit is what UNIT_MODE=hbu adds: HyperBEAM's scheduler as the message
// source, its Skip slots and evaluation counts in the runtime, and the
// sidecar's routes in front of the CU's.
//
// The loader profile of this mode is 0.0.48 by default (feat/hb-unit pins
// @permaweb/ao-loader 0.0.48; config sets it unless AO_LOADER_VERSION is
// given).
type hbUnit struct {
	client   *hbclient.Client
	skips    *hbclient.Skips
	counters *hbclient.Counters
}

func newHBUnit(cfg *config.Config, log *slog.Logger, st store, legacy ao.Scheduler) (*hbUnit, error) {
	h := &hbUnit{skips: hbclient.NewSkips(), counters: hbclient.NewCounters()}
	opts := hbclient.Options{URL: cfg.HBURL, Logger: log, Skips: h.skips, Resolve: resolveWith(st)}
	if cfg.HBLegacySUURL != "" {
		opts.LegacySU, opts.LegacySUURL = legacy, cfg.HBLegacySUURL
	}
	c, err := hbclient.New(opts)
	if err != nil {
		return nil, err
	}
	h.client = c
	return h, nil
}

// resolveWith finds the slot of a state the engine resumes from after a
// restart: its last stored evaluation or its file checkpoint.
func resolveWith(st store) func(ctx context.Context, pid string, ts int64) (int64, bool) {
	return func(ctx context.Context, pid string, ts int64) (int64, bool) {
		if fc, err := st.FindFileCheckpoint(ctx, pid); err == nil && fc.Evaluation.Timestamp == ts && fc.Evaluation.Cron == "" {
			return fc.Evaluation.Nonce, true
		}
		if ev, err := st.LatestEvaluation(ctx, pid); err == nil && ev.Timestamp == ts && ev.Nonce != nil {
			return *ev.Nonce, true
		}
		return 0, false
	}
}

func (h *hbUnit) handler(cfg *config.Config, u *Unit, log *slog.Logger, cu http.Handler, wrap func(http.Handler) http.Handler) http.Handler {
	return hbuhttp.New(hbuhttp.Options{
		Engine: u.Engine, Schedule: h.client, Counters: h.counters,
		Checkpoints: u.store, CheckpointDir: cfg.ProcessMemoryFileCheckpointsDir,
		Fallback: cu, Address: u.Address, Logger: log, Wrap: wrap,
		BusyThreshold:       cfg.BusyThreshold,
		RestrictProcesses:   cfg.RestrictProcesses,
		AllowProcesses:      cfg.AllowProcesses,
		DryRunDefaultMaxAge: cfg.DryRunDefaultMaxProcessAge,
		MaxMemoryBytes:      cfg.ProcessWasmMemoryMaxLimit,
	})
}
