package remoting

import "slices"

// Dispatcher maps request codes to handlers. Requests it has no handler for
// are answered with REQUEST_CODE_NOT_SUPPORTED. A nil *Dispatcher has no
// handlers.
type Dispatcher struct {
	handlers map[RequestCode]HandlerFunc
}

// NewDispatcher returns an empty Dispatcher.
func NewDispatcher() *Dispatcher {
	return &Dispatcher{handlers: make(map[RequestCode]HandlerFunc)}
}

// Handle registers h for code. Registering a code twice, or a nil handler,
// is a wiring bug and panics, as http.ServeMux does.
func (d *Dispatcher) Handle(code RequestCode, h HandlerFunc) {
	if h == nil {
		panic("remoting: nil handler for " + code.String())
	}
	if _, dup := d.handlers[code]; dup {
		panic("remoting: second handler for " + code.String())
	}
	if d.handlers == nil {
		d.handlers = make(map[RequestCode]HandlerFunc)
	}
	d.handlers[code] = h
}

// Handler returns the handler for code.
func (d *Dispatcher) Handler(code RequestCode) (HandlerFunc, bool) {
	if d == nil {
		return nil, false
	}
	h, ok := d.handlers[code]
	return h, ok
}

// Codes returns the codes with a handler, sorted.
func (d *Dispatcher) Codes() []RequestCode {
	if d == nil {
		return nil
	}
	codes := make([]RequestCode, 0, len(d.handlers))
	for code := range d.handlers {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}
