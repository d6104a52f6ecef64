// Package mailcatch is the demo's mail catcher: an SMTP server on loopback
// that keeps every message, and a web page to read them, so the alert emails
// to unit leads can be seen without a mail system.
package mailcatch

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received email, decoded for reading.
type Message struct {
	Received time.Time
	From     string
	To       []string
	Subject  string
	Text     string // the text/plain part, or the HTML with tags left in
	Raw      []byte
}

// Catcher keeps what its SMTP server receives.
type Catcher struct {
	mu   sync.Mutex
	msgs []Message
	srv  *smtp.Server
	Addr string // SMTP host:port
}

// Start serves SMTP on addr (e.g. 127.0.0.1:0) until Close.
func Start(addr string) (*Catcher, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Catcher{Addr: l.Addr().String()}
	c.srv = smtp.NewServer(c)
	c.srv.Domain = "localhost"
	c.srv.ReadTimeout, c.srv.WriteTimeout = 30*time.Second, 30*time.Second
	go c.srv.Serve(l) //nolint:errcheck // ends with Close
	return c, nil
}

// Close stops the SMTP server.
func (c *Catcher) Close() error { return c.srv.Close() }

// Messages returns a copy of what was received, oldest first.
func (c *Catcher) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// NewSession implements smtp.Backend.
func (c *Catcher) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }

type session struct {
	c    *Catcher
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Decode(raw)
	m.Received, m.From, m.To = time.Now(), s.from, s.to
	s.c.mu.Lock()
	s.c.msgs = append(s.c.msgs, m)
	s.c.mu.Unlock()
	return nil
}

var wordDecoder = new(mime.WordDecoder)

// Decode parses a raw message: RFC 2047 subject, the first text part
// (quoted-printable and base64 are undone by the multipart reader).
func Decode(raw []byte) Message {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = string(raw)
		return m
	}
	if subj, err := wordDecoder.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	m.Text = bodyText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m
}

func bodyText(ctype, cte string, body io.Reader) string {
	mt, params, _ := mime.ParseMediaType(ctype)
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var html string
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			t := bodyText(p.Header.Get("Content-Type"), "", p) // NextPart decodes quoted-printable
			if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
				return t
			}
			if html == "" {
				html = t
			}
		}
		return html
	}
	b, _ := io.ReadAll(body)
	if strings.EqualFold(cte, "base64") {
		if d, err := decodeBase64(b); err == nil {
			return string(d)
		}
	}
	return string(b)
}

var page = template.Must(template.New("mail").Parse(`<!doctype html><html><head><meta charset="utf-8">
<title>minewatch 演示邮箱 demo mailbox</title><style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap;background:#f4f4f4;padding:1em}</style></head>
<body><h1>演示邮箱 demo mailbox ({{len .}})</h1>{{range .}}<h2>{{.Subject}}</h2>
<p>收件人 To: {{range .To}}{{.}} {{end}} · {{.Received.Format "2006-01-02 15:04:05"}}</p><pre>{{.Text}}</pre>{{else}}<p>尚无邮件 no mail yet</p>{{end}}</body></html>`))

// ServeHTTP shows the received messages, newest first.
func (c *Catcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	msgs := c.Messages()
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, msgs); err != nil {
		fmt.Fprintln(w, err)
	}
}
