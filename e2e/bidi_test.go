package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/coder/websocket"
)

// bidi is one WebDriver BiDi session (https://w3c.github.io/webdriver-bidi/)
// over a WebSocket: each command is matched to its answer by id, and
// events go to onEvent. It is what the Firefox tests drive the browser
// with; chromedp speaks only the Chrome DevTools Protocol.
type bidi struct {
	ws      *websocket.Conn
	onEvent func(method string, params json.RawMessage)

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan bidiMessage
	err     error // why the read loop ended, once done is closed

	done chan struct{} // closed when the read loop ends
}

// bidiMessage is anything the browser sends: a command's success or error,
// or an event.
type bidiMessage struct {
	Type       string          `json:"type"` // success, error or event
	ID         *int            `json:"id"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	Message    string          `json:"message"`
	Stacktrace string          `json:"stacktrace"`
	Method     string          `json:"method"`
	Params     json.RawMessage `json:"params"`
}

// bidiError is a command the browser refused.
type bidiError struct {
	Method, Code, Message string
}

func (e *bidiError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Method, e.Code, e.Message)
}

// dialBiDi connects to a browser's BiDi endpoint (ws://HOST:PORT/session).
// onEvent, if not nil, is called on the read goroutine for every event and
// must not block.
func dialBiDi(ctx context.Context, url string, onEvent func(string, json.RawMessage)) (*bidi, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	// Console events and script results can be larger than the default
	// 32 KiB.
	ws.SetReadLimit(16 << 20)
	b := &bidi{ws: ws, onEvent: onEvent, waiting: map[int]chan bidiMessage{}, done: make(chan struct{})}
	go b.readLoop()
	return b, nil
}

func (b *bidi) readLoop() {
	defer close(b.done)
	for {
		_, data, err := b.ws.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			b.err = err
			b.mu.Unlock()
			return
		}
		var m bidiMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.ID == nil {
			if m.Type == "event" && b.onEvent != nil {
				b.onEvent(m.Method, m.Params)
			}
			continue
		}
		b.mu.Lock()
		ch := b.waiting[*m.ID]
		delete(b.waiting, *m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends a command and waits for its result.
func (b *bidi) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiMessage, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.waiting[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
	}()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if err := b.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, fmt.Errorf("%s: send: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return nil, &bidiError{Method: method, Code: m.Error, Message: m.Message}
		}
		return m.Result, nil
	case <-b.done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return nil, fmt.Errorf("%s: connection closed: %w", method, b.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close closes the WebSocket and waits for the read loop to end.
func (b *bidi) close() {
	_ = b.ws.CloseNow()
	<-b.done
}

// remoteValue is a BiDi script result: the Firefox helpers have scripts
// return JSON text, so only strings and undefined matter.
type remoteValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// evaluateResult is script.evaluate's answer.
type evaluateResult struct {
	Type             string      `json:"type"` // success or exception
	Result           remoteValue `json:"result"`
	ExceptionDetails struct {
		Text       string `json:"text"`
		LineNumber int    `json:"lineNumber"`
	} `json:"exceptionDetails"`
}

// evaluateJSON evaluates a JavaScript expression in a browsing context,
// awaits it if it is a promise, and returns its value as JSON.
func (b *bidi) evaluateJSON(ctx context.Context, browsingContext, js string) (json.RawMessage, error) {
	expr := fmt.Sprintf("Promise.resolve(%s).then((v) => JSON.stringify(v === undefined ? null : v))", js)
	raw, err := b.call(ctx, "script.evaluate", map[string]any{
		"expression":      expr,
		"target":          map[string]any{"context": browsingContext},
		"awaitPromise":    true,
		"resultOwnership": "none",
		// As if the user had clicked: media may play without a gesture.
		"userActivation": true,
	})
	if err != nil {
		return nil, err
	}
	var r evaluateResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("script.evaluate: decoding %s: %w", raw, err)
	}
	if r.Type == "exception" {
		return nil, fmt.Errorf("script.evaluate: exception at line %d: %s", r.ExceptionDetails.LineNumber, r.ExceptionDetails.Text)
	}
	if r.Result.Type != "string" {
		return nil, fmt.Errorf("script.evaluate: a %s, want JSON text", r.Result.Type)
	}
	var text string
	if err := json.Unmarshal(r.Result.Value, &text); err != nil {
		return nil, fmt.Errorf("script.evaluate: %w", err)
	}
	return json.RawMessage(text), nil
}
