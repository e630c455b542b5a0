package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticHandler serves the embedded CSS and script, and no directory listing.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static") // "static" is embedded above, so Sub cannot fail
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// pages holds one parsed template set per page: the layout plus the page.
type pages struct{ byName map[string]*template.Template }

// pageNames are the templates under templates/, without ".html", besides the layout.
var pageNames = []string{"sign-in", "workspaces", "accounts", "new-account", "account", "project", "key", "confirm", "rotate", "audit", "message",
	"groups", "group", "projects", "admins"}

func parsePages(now func() time.Time) (*pages, error) {
	funcs := template.FuncMap{
		"rel":   func(v any) string { return relTime(timeOf(v), now()) },
		"exact": func(v any) string { return timeOf(v).UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":   func(v any) string { return timeOf(v).UTC().Format(time.RFC3339) },
		"path":  pathOf,
		"admin": isAdmin,
		"past":  func(v any) bool { t := timeOf(v); return !t.IsZero() && t.Before(now()) },
		"roles": func() []keystore.Role {
			return []keystore.Role{keystore.RoleViewer, keystore.RoleContributor, keystore.RoleOwner}
		},
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title     string
	Principal *Principal // nil before sign-in
	// Reach is what the principal manages (navigation only: every action is checked by
	// the Service); nil before sign-in.
	Reach  *keystore.Reach
	CSRF   string
	Flash  string
	Errors map[string]string // form name → message shown next to that form
	Form   url.Values        // the values a failed form is shown again with
	Data   any               // the page's own data
}

// isAdmin reports whether reach (nil: none) includes administering workspace ws. It
// only chooses which links a page offers.
func isAdmin(reach *keystore.Reach, ws string) bool {
	return reach != nil && (reach.Every || slices.Contains(reach.Admin, ws))
}

// render writes page with status; the page is rendered in full before anything is sent.
func (c *Console) render(w http.ResponseWriter, q *req, status int, page string, v view) {
	v.CSRF, v.Flash = q.csrf, q.flash
	if q.signedIn {
		v.Principal, v.Reach = &q.principal, &q.reach
	}
	var buf bytes.Buffer
	if err := c.pages.byName[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("rendering a console page", zap.String("page", page), zap.Error(err))
		http.Error(w, "internal error; see the admin's logs", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page that only says something, e.g. a refused form.
func (c *Console) message(w http.ResponseWriter, q *req, status int, title, msg string) {
	c.render(w, q, status, "message", view{Title: title, Data: msg})
}

// describe turns a Service error into words for a person and the status of the page
// that shows them. A technical failure is logged here and described only vaguely.
func (c *Console) describe(r *http.Request, err error) (string, int) {
	var ke *keystore.Error
	if !errors.As(err, &ke) {
		c.log.Error("console request failed", zap.String("method", r.Method), zap.String("route", r.Pattern), zap.Error(err))
		return "Something went wrong on the server; the admin's log has the details. Nothing was changed unless the page says so.",
			http.StatusInternalServerError
	}
	switch ke.Kind {
	case keystore.KindInvalid:
		return "Please check the form: " + humanInvalid(ke.Message), http.StatusBadRequest
	case keystore.KindNotFound:
		return upperFirst(ke.Message) + ": it may have been deleted meanwhile.", http.StatusNotFound
	case keystore.KindNameTaken:
		return "That name is already taken: " + ke.Message + ". Choose another.", http.StatusConflict
	case keystore.KindLimitReached:
		return "A limit is reached: " + ke.Message + ".", http.StatusConflict
	case keystore.KindAmbiguous:
		return "That reference matches more than one thing: " + ke.Message + ".", http.StatusConflict
	case keystore.KindState:
		return "Not possible right now: " + ke.Message + ".", http.StatusUnprocessableEntity
	case keystore.KindPermissionDenied:
		return "Refused: " + ke.Message + ".", http.StatusForbidden
	case keystore.KindUnauthenticated:
		return "Not signed in: " + ke.Message + ".", http.StatusUnauthorized
	}
	return ke.Message, http.StatusBadRequest
}

// fieldHints explain a field's rule in words, by the field name keystore puts first in
// an invalid_argument message ("name: must match …").
var fieldHints = map[string]string{
	"name":        "a name starts with a lower-case letter, then lower-case letters, digits or '-', at most 63 characters.",
	"project":     "a project is * (every project) or starts with a letter or digit, then letters, digits, '.', '_' or '-', at most 128 characters.",
	"role":        "choose viewer, contributor or owner.",
	"description": "a description is plain text without control characters, at most 1024 bytes.",
	"filter":      "a filter is at most 64 printable characters.",
	"actor":       "an actor is a principal such as operator:NAME, sa:ID or person:NAME.",
	"action":      "an action is at most 64 printable characters.",
	"workspace":   "a workspace name starts with a lower-case letter, then lower-case letters, digits or '-'.",
	"expires_in":  "choose how long the key is valid from the list.",
	"retain":      "choose how long the old key keeps working from the list.",
}

func humanInvalid(msg string) string {
	field, _, _ := strings.Cut(msg, ":")
	if h, ok := fieldHints[field]; ok {
		return h
	}
	return msg
}

// upperFirst capitalizes the first letter of s.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// timeOf accepts a time.Time or a *time.Time (nil: the zero time).
func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}

// relTime says how long ago (or in how long) t is: "3 hours ago", "in 5 days".
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	if d < time.Minute {
		if future {
			return "in under a minute"
		}
		return "just now"
	}
	// in rounds to the nearest unit: a key that expires in 29 days 23 hours is "in 30 days".
	in := func(unit time.Duration) int { return int((d + unit/2) / unit) }
	var s string
	switch {
	case d < time.Hour:
		s = plural(in(time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(in(time.Hour), "hour")
	case d < 60*24*time.Hour:
		s = plural(in(24*time.Hour), "day")
	case d < 2*365*24*time.Hour:
		s = plural(in(30*24*time.Hour), "month")
	default:
		s = plural(in(365*24*time.Hour), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// escapeSegment escapes one path segment.
func escapeSegment(s string) string { return url.PathEscape(s) }
