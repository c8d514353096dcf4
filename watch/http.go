package watch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxHookBody bounds a webhook payload (GitHub caps theirs at 25 MB; a
// push event is far smaller).
const maxHookBody = 5 << 20

// Limits of the HTTP server: the webhook is reachable by whoever can reach
// the port, so slow or numerous clients must not grow drsync's memory nor
// keep a signed hook waiting.
const (
	// maxConnections caps open connections; an idle one costs a few KiB.
	maxConnections    = 512
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds a whole request, body included.
	readTimeout  = 30 * time.Second
	writeTimeout = 30 * time.Second
	idleTimeout  = 60 * time.Second
	// badSignatureLogEvery is the most often a bad signature is logged;
	// the ones in between are counted into the next line.
	badSignatureLogEvery = time.Minute
)

// metrics are the watcher's own series, on a registry of its own so that
// several Watchers (tests) do not collide. Go and process collectors are
// left to the Reconciler's Gatherer, which would otherwise duplicate them.
type metrics struct {
	reg           *prometheus.Registry
	reconciles    *prometheus.CounterVec
	duration      prometheus.Histogram
	applied       *prometheus.GaugeVec
	fetchErrors   prometheus.Counter
	lastReconcile prometheus.Gauge
	valid         prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drsync_watch_reconciles_total",
			Help: "Reconciles run by drsync watch, by how they ended (unchanged, applied, drift, guarded, failed).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "drsync_watch_reconcile_duration_seconds",
			Help: "Duration of a reconcile, planning and (with apply) applying.",
			// 0.1 s (a plan with nothing to do) to about 2 h (a first full send).
			Buckets: prometheus.ExponentialBuckets(0.1, 3, 10),
		}),
		applied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drsync_watch_last_applied_revision_info",
			Help: "The revision of the last completed reconcile, as a label; always 1.",
		}, []string{"revision"}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "drsync_watch_fetch_errors_total",
			Help: "Failures to list or stage the desired state's source.",
		}),
		lastReconcile: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drsync_watch_last_reconcile_timestamp_seconds",
			Help: "Unix time the last reconcile finished.",
		}),
		valid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drsync_watch_desired_state_valid",
			Help: "1 if the newest revision of the desired state validated, 0 if it was rejected (the last good one stays in force).",
		}),
	}
	m.reg.MustRegister(m.reconciles, m.duration, m.applied, m.fetchErrors, m.lastReconcile, m.valid)
	return m
}

// handler serves /metrics, /healthz, /status and, with a secret, /hook.
func (w *Watcher) handler() http.Handler {
	gatherers := prometheus.Gatherers{w.metrics.reg}
	if g := w.r.Gatherer(); g != nil {
		gatherers = append(gatherers, g)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		io.WriteString(rw, "ok\n")
	})
	mux.HandleFunc("GET /status", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(rw)
		enc.SetIndent("", "  ")
		enc.Encode(w.Status())
	})
	if w.opts.WebhookSecret != nil {
		mux.HandleFunc("POST /hook", w.hook)
	}
	return mux
}

// newServer serves h on ln with the limits above.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// hook fetches at once when the body is signed with the webhook secret
// (GitHub's X-Hub-Signature-256), rather than waiting for the next poll.
// The body streams through the HMAC and is never held in memory: the hook
// needs only to know that the sender has the secret.
func (w *Watcher) hook(rw http.ResponseWriter, req *http.Request) {
	if req.ContentLength > maxHookBody {
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	ok, err := checkSignature(w.opts.WebhookSecret, req.Header.Get("X-Hub-Signature-256"), http.MaxBytesReader(rw, req.Body, maxHookBody))
	if err != nil {
		http.Error(rw, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if !ok {
		w.badSignature(req)
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	w.request(checkSource)
	rw.WriteHeader(http.StatusAccepted)
	io.WriteString(rw, "fetching\n")
}

// badSignature logs a rejected hook at most once per badSignatureLogEvery,
// with the count of those not logged, so a flood cannot flood the log.
func (w *Watcher) badSignature(req *http.Request) {
	w.hookLog.Lock()
	now := time.Now()
	if now.Before(w.hookLog.next) {
		w.hookLog.suppressed++
		w.hookLog.Unlock()
		return
	}
	suppressed := w.hookLog.suppressed
	w.hookLog.next, w.hookLog.suppressed = now.Add(badSignatureLogEvery), 0
	w.hookLog.Unlock()
	w.log.Warn("webhook with a bad or missing signature", "remote", req.RemoteAddr, "not_logged_since_last", suppressed)
}

// checkSignature checks header, "sha256=<hex HMAC-SHA256 of body>", in
// constant time, streaming body through the HMAC. A malformed header fails
// without reading the body.
func checkSignature(secret []byte, header string, body io.Reader) (bool, error) {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false, nil
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return false, nil
	}
	mac := hmac.New(sha256.New, secret)
	if _, err := io.Copy(mac, body); err != nil {
		return false, err
	}
	return hmac.Equal(sig, mac.Sum(nil)), nil
}
