package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/procstat"
)

// cuProc is one `aocu serve` process.
type cuProc struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
	logf    *os.File
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startCU runs `bin serve` in dir with exactly env (plus PORT, a free port),
// its output appended to logPath.
func startCU(bin, dir string, env []string, logPath string) (*cuProc, error) {
	return startCmd([]string{bin, "serve"}, dir, env, logPath)
}

// startCmd runs argv as a CU (startCU).
func startCmd(argv []string, dir string, env []string, logPath string) (*cuProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("CU log: %w", err)
	}
	// Not CommandContext: the bench stops it with SIGTERM, as an operator would.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), env...), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &cuProc{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), logPath: logPath, done: make(chan struct{}), logf: logf}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *cuProc) pid() int { return p.cmd.Process.Pid }

// waitReady polls GET / until it answers 200.
func (p *cuProc) waitReady(ctx context.Context, client *http.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering GET / (%v); log tail:\n%s", p.cmd.Path, p.waitErr, logTail(p.logPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer GET / at %s: %w", p.cmd.Path, p.url, ctx.Err())
		case <-tick.C:
		}
	}
}

// cpuUsage is what the kernel reports for an exited process.
type cpuUsage struct {
	UserS     float64 `json:"user_s"`
	SysS      float64 `json:"sys_s"`
	MaxRSSkB  int64   `json:"max_rss_kb"`
	ExitError string  `json:"exit_error,omitempty"`
}

// stop sends sig (SIGTERM or SIGKILL) and waits for the exit (SIGKILL after
// timeout). It returns the process's CPU time and peak RSS and how long the
// exit took.
func (p *cuProc) stop(sig syscall.Signal, timeout time.Duration) (cpuUsage, time.Duration, error) {
	start := time.Now()
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return cpuUsage{}, 0, fmt.Errorf("%v: %w", sig, err)
		}
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	took := time.Since(start)
	var u cpuUsage
	if st := p.cmd.ProcessState; st != nil {
		u.UserS, u.SysS = st.UserTime().Seconds(), st.SystemTime().Seconds()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			u.MaxRSSkB = ru.Maxrss // kB on Linux
		}
	}
	if p.waitErr != nil {
		u.ExitError = p.waitErr.Error()
	}
	return u, took, nil
}

func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// sampler reads the aocu process's memory and the machine's load average
// every interval, and keeps the maxima since the last reset.
type sampler struct {
	mu       sync.Mutex
	pid      int
	peakRSS  int64   // max VmRSS sampled since reset, kB
	hwm      int64   // last VmHWM, kB (the kernel's peak since the process started)
	loadMax  float64 // max 1-minute load average since reset
	loadMin  float64
	samples  int
	runStart time.Time
	// The whole run's load average range.
	allMin, allMax float64
}

func newSampler() *sampler { return &sampler{loadMin: -1, allMin: -1} }

// loadRange is the 1-minute load average's minimum and maximum over the run.
func (s *sampler) loadRange() [2]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [2]float64{s.allMin, s.allMax}
}

func (s *sampler) sample() {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	l := procstat.LoadAvg()
	var rss, hwm int64
	var err error = errors.New("no process")
	if pid > 0 {
		rss, hwm, err = procstat.Mem(pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && pid == s.pid {
		s.peakRSS = max(s.peakRSS, rss)
		s.hwm = max(s.hwm, hwm)
		s.samples++
	}
	if l >= 0 {
		s.loadMax = max(s.loadMax, l)
		if s.loadMin < 0 || l < s.loadMin {
			s.loadMin = l
		}
		s.allMax = max(s.allMax, l)
		if s.allMin < 0 || l < s.allMin {
			s.allMin = l
		}
	}
}

// watch switches to another process (a restarted aocu).
func (s *sampler) watch(pid int) {
	s.mu.Lock()
	s.pid, s.peakRSS, s.hwm = pid, 0, 0
	s.mu.Unlock()
	s.sample()
}

// memStats is a phase's memory and load figures.
type memStats struct {
	PeakRSSkB  int64   `json:"peak_rss_kb"`     // max sampled VmRSS during the phase
	HWMkB      int64   `json:"vmhwm_kb_at_end"` // VmHWM at the end: the peak since aocu started
	RSSEndkB   int64   `json:"rss_kb_at_end"`
	Load1Min   float64 `json:"load1_min"`
	Load1Max   float64 `json:"load1_max"`
	Samples    int     `json:"samples"`
	DurationMs float64 `json:"duration_ms"`
}

// reset starts a phase.
func (s *sampler) reset() {
	s.mu.Lock()
	s.peakRSS, s.loadMax, s.loadMin, s.samples, s.runStart = 0, 0, -1, 0, time.Now()
	s.mu.Unlock()
	s.sample()
}

// end closes a phase.
func (s *sampler) end() memStats {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := memStats{PeakRSSkB: s.peakRSS, HWMkB: s.hwm, Load1Min: s.loadMin, Load1Max: s.loadMax,
		Samples: s.samples, DurationMs: ms(time.Since(s.runStart))}
	if s.pid > 0 {
		if rss, hwm, err := procstat.Mem(s.pid); err == nil {
			m.RSSEndkB, m.HWMkB = rss, max(m.HWMkB, hwm)
		}
	}
	return m
}
