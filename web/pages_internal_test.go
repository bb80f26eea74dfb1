package web

import (
	"io/fs"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/admin/grid", "/admin/grid"},
		{"/login?next=%2F", "/login?next=%2F"},
		{"", "/"},
		{"admin", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{`/\evil.example`, "/"},
		{"/\tevil", "/"},
		{"/a\r\nSet-Cookie: x=1", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, tc := range tests {
		if got := SafeNext(tc.in); got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNegotiateLang(t *testing.T) {
	tests := []struct {
		header string
		want   string
	}{
		{"", ZH},
		{"en", EN},
		{"en-GB,en;q=0.8", EN},
		{"zh-TW,zh;q=0.9,en;q=0.8", ZH},
		{"de-DE,de;q=0.9,en;q=0.8,zh;q=0.5", EN},
		{"en;q=0.2, zh-CN;q=0.9", ZH},
		{"en;q=0, fr", ZH},
		{"*", ZH},
		{"english", ZH},
	}
	for _, tc := range tests {
		if got := negotiateLang(tc.header); got != tc.want {
			t.Errorf("negotiateLang(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// newTestKit is a kit with its own messages, templates and static files,
// without a server: enough to test the catalogue and Check.
func newTestKit(t *testing.T) *Pages {
	t.Helper()
	k := &Pages{cat: &catalog{msgs: map[string]Msg{}, reasons: map[string]string{}}, uses: map[string]templateUses{}, assets: map[string]asset{}}
	k.AddMessages(messages)
	k.AddReasons(reasons)
	err := fs.WalkDir(templateFS, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		k.scan(name, templateFS, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	k.AddStatic(staticFS, "static")
	return k
}

// TestKitMessages checks the kit's own messages are complete and that its
// templates (layout, home, error) name only its own messages and files: the
// kit must work whatever domains are mounted on it.
func TestKitMessages(t *testing.T) {
	for key, m := range messages {
		if problem := checkMsg(key, m); problem != "" {
			t.Error(problem)
		}
	}
	if err := newTestKit(t).Check(); err != nil {
		t.Error(err)
	}
}

func TestAddMessagesRefusesMistakes(t *testing.T) {
	tests := []struct {
		name string
		msgs map[string]Msg
		want string
	}{
		{"taken key", map[string]Msg{"nav.home": {ZH: "首页", EN: "Home"}}, `message "nav.home" is added twice`},
		{"no English", map[string]Msg{"x.only_zh": {ZH: "中文"}}, `message "x.only_zh" lacks a language`},
		{"arguments differ", map[string]Msg{"x.args": {ZH: "%d 个", EN: "%s items"}}, `message "x.args" has arguments`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestKit(t)
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Errorf("AddMessages panicked with %v, want %q", r, tc.want)
				}
			}()
			k.AddMessages(tc.msgs)
		})
	}
}

func TestCheckNamesWhatIsMissing(t *testing.T) {
	k := newTestKit(t)
	k.uses["report_view"] = templateUses{keys: []string{"nav.home", "view.title"}, assets: []string{"nuanxin.css", "live.js"}}
	err := k.Check()
	if err == nil {
		t.Fatal("Check passed with a missing message and script")
	}
	for _, want := range []string{`report_view uses message "view.title"`, `report_view uses static file "live.js"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v; want it to say %s", err, want)
		}
	}
	k.AddMessages(map[string]Msg{"view.title": {ZH: "上报详情", EN: "Report"}})
	k.assets["live.js"] = asset{}
	if err := k.Check(); err != nil {
		t.Errorf("Check once both are added: %v", err)
	}
}

func TestLang(t *testing.T) {
	k := newTestKit(t)
	k.AddReasons(map[string]string{"use at least 8 characters": "密码至少需要 8 个字符"})
	zh, en := Lang{ZH, k.cat}, Lang{EN, k.cat}
	if got := zh.T("error.status", 404); got != "错误代码 404" {
		t.Errorf("zh error.status = %q", got)
	}
	if got := en.T("error.status", 404); got != "Error 404" {
		t.Errorf("en error.status = %q", got)
	}
	if got := en.T("no.such.key"); got != "[[no.such.key]]" {
		t.Errorf("missing key shows %q, want [[no.such.key]]", got)
	}
	if got := zh.Reason("use at least 8 characters"); got != "密码至少需要 8 个字符" {
		t.Errorf("zh reason = %q", got)
	}
	if got := en.Reason("use at least 8 characters"); got != "Use at least 8 characters" {
		t.Errorf("en reason = %q", got)
	}
	if got := zh.Reason("an untranslated reason"); got != "an untranslated reason" {
		t.Errorf("zh untranslated reason = %q", got)
	}
}
