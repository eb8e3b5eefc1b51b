package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
	"google.golang.org/protobuf/proto"
)

// API limits: what one client can make the Conductor service hold.
const (
	apiMaxStreams     = 16 // per HTTP/2 connection, like MaxInFlight on the socket
	apiHeaderTimeout  = 10 * time.Second
	apiIdleTimeout    = 10 * time.Minute
	apiMaxHeaderBytes = 64 << 10
)

// APIHandler is the Conductor service (with server reflection) answering
// through h. The caller's role must be in the request context (withRole).
func APIHandler(h Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	limits := connect.WithReadMaxBytes(messages.MaxFrameSize)
	mux.Handle(messagesconnect.NewConductorHandler(apiService{h: h, log: log}, limits))
	reflector := grpcreflect.NewStaticReflector(messagesconnect.ConductorName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return mux
}

type peerUIDKey struct{}

// startAPI starts the Conductor service's listeners. One that cannot listen
// is reported, not fatal: the conductor's socket still serves the CLI.
func startAPI(deps *Deps, h Handler) []*apiServer {
	var out []*apiServer
	if deps.APISocket != "" {
		if a, err := serveAPISocket(deps.APISocket, h, os.Getuid(), deps.Log); err != nil {
			deps.Log.Error("cannot serve the api socket", "socket", deps.APISocket, "err", err)
		} else {
			out = append(out, a)
		}
	}
	if deps.APIListen != "" && deps.APITLS != nil {
		cfg, err := deps.APITLS()
		if err == nil {
			var a *apiServer
			if a, err = serveAPINetwork(deps.APIListen, cfg, h, deps.Paths.Home, deps.Log); err == nil {
				out = append(out, a)
				deps.Log.Info("api endpoint listening (mutual TLS)", "listen", deps.APIListen)
			}
		}
		if err != nil {
			deps.Log.Error("cannot serve the api endpoint", "listen", deps.APIListen, "err", err)
		}
	}
	return out
}

// apiServer is one listener of the Conductor service.
type apiServer struct {
	srv  *http.Server
	done chan struct{}
	// endStreams cancels every request's context: followed streams end.
	endStreams context.CancelFunc
}

// serveAPISocket serves the service on the home's api.sock (made with the
// socket's hygiene, 0600) to the conductor's own uid only, as HTTP/1.1 and
// cleartext HTTP/2 so gRPC works there too.
func serveAPISocket(path string, h Handler, ownUID int, log *slog.Logger) (*apiServer, error) {
	ln, err := Listen(path)
	if err != nil {
		return nil, err
	}
	api := APIHandler(h, log)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, _ := r.Context().Value(peerUIDKey{}).(int)
		if err := CheckPeer(uid, ownUID); err != nil {
			log.Warn("api connection refused", "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		api.ServeHTTP(w, r.WithContext(withCaller(r.Context(), certs.RoleFull, "")))
	}), log)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		uid := -1
		if cc, ok := c.(*cappedConn); ok {
			c = cc.Conn
		}
		if uc, ok := c.(*net.UnixConn); ok {
			if got, err := PeerUID(uc); err == nil {
				uid = got
			}
		}
		return context.WithValue(ctx, peerUIDKey{}, uid)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
	a := newAPIServer(srv)
	go a.run(func() error { return srv.Serve(newCapListener(ln, apiMaxConns)) }, log, ownSocketRemover(path))
	return a, nil
}

// serveAPINetwork serves the service on [api] listen over mutual TLS: the
// client certificate's role decides what it may ask.
func serveAPINetwork(addr string, cfg *tls.Config, h Handler, home string, log *slog.Logger) (*apiServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api listen %s: %w", addr, err)
	}
	api := APIHandler(&networkHandler{h: h, home: home, log: log}, log)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, peer := "", ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			leaf := r.TLS.PeerCertificates[0]
			role, peer = certs.Role(leaf), leaf.Subject.CommonName
		}
		log.Debug("api request", "peer", peer, "role", role, "peer_address", r.RemoteAddr, "path", r.URL.Path)
		api.ServeHTTP(w, r.WithContext(withCaller(r.Context(), role, peer)))
	}), log)
	srv.TLSConfig = cfg.Clone()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv.Protocols = &p
	a := newAPIServer(srv)
	go a.run(func() error { return srv.ServeTLS(newCapListener(ln, apiMaxConns), "", "") }, log, func() {})
	return a, nil
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: apiHeaderTimeout,
		IdleTimeout:       apiIdleTimeout,
		MaxHeaderBytes:    apiMaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: apiMaxStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (a *apiServer) run(serve func() error, log *slog.Logger, cleanup func()) {
	defer close(a.done)
	defer cleanup()
	defer func() {
		if r := recover(); r != nil {
			log.Error("api server panicked", "panic", fmt.Sprint(r))
		}
	}()
	if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("api server stopped", "err", err)
	}
}

func newAPIServer(srv *http.Server) *apiServer {
	base, cancel := context.WithCancel(context.Background())
	srv.BaseContext = func(net.Listener) context.Context { return base }
	return &apiServer{srv: srv, done: make(chan struct{}), endStreams: cancel}
}

// apiCloseGrace is how long close lets requests in flight write their
// answers (a Shutdown's among them) before streams are ended and
// connections cut, as the socket does.
const apiCloseGrace = 3 * time.Second

// close stops accepting, lets requests in flight answer, then ends every
// stream and connection, and waits for the server.
func (a *apiServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), apiCloseGrace)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.endStreams()
		a.srv.Close()
	}
	a.endStreams()
	<-a.done
}

// ownSocketRemover returns what removes path at close if it is still the
// socket this listener made (a new conductor may have replaced a stale one).
func ownSocketRemover(path string) func() {
	before, err := os.Stat(path)
	return func() {
		if err != nil {
			return
		}
		if now, serr := os.Stat(path); serr == nil && os.SameFile(before, now) {
			os.Remove(path)
		}
	}
}

// networkHandler answers requests from other hosts: a submitted score is
// kept on this host with the prompt files it brought (its relative paths
// must mean something here), like the remote endpoint does.
type networkHandler struct {
	h    Handler
	home string
	log  *slog.Logger
}

func (n *networkHandler) Handle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
	sub, ok := req.(*messages.SubmitJobRequest)
	if !ok {
		return n.h.Handle(ctx, req, send)
	}
	files := sub.GetFiles()
	dir, err := materializeScore(n.home, callerOf(ctx).peer, sub, time.Now())
	if err != nil {
		return nil, err
	}
	if sub.GetFleet() {
		// The copy only lets the score be checked here: the fleet's bundle
		// carries the files to the member that runs the job.
		sub.Files = files
		defer os.RemoveAll(dir)
		return n.h.Handle(ctx, sub, send)
	}
	reply, err := n.h.Handle(ctx, sub, send)
	var me *messages.Error
	if err != nil && !(errors.As(err, &me) && me.GetCode() == messages.ErrorCode_ERROR_CODE_TIMEOUT) {
		if rerr := os.RemoveAll(dir); rerr != nil {
			n.log.Warn("cannot remove a refused remote score", "dir", dir, "err", rerr)
		}
	}
	return reply, err
}
