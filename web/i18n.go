package web

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Page languages, as BCP 47 tags. Simplified Chinese comes first: it is the
// default.
const (
	ZH = "zh-CN"
	EN = "en"
)

// langs lists the page languages, the default first.
var langs = []string{ZH, EN}

// langCookie remembers the language a visitor switched to.
const langCookie = "nx_lang"

// Msg is one UI string in both page languages. Its text may hold fmt verbs
// (%s, %d), the same ones in the same order in both.
type Msg struct{ ZH, EN string }

// catalog is every message the pages show, merged from the kit's own and
// those each domain adds, and the translations of the English reasons that
// services give.
type catalog struct {
	msgs    map[string]Msg
	reasons map[string]string
}

// Lang is a visitor's page language with the message catalogue: what page
// code and templates (through t) write their words with.
type Lang struct {
	tag string
	cat *catalog
}

// Tag is the language's BCP 47 tag: ZH or EN.
func (l Lang) Tag() string { return l.tag }

// other is the language the switch link offers.
func (l Lang) other() Lang {
	if l.tag == EN {
		return Lang{ZH, l.cat}
	}
	return Lang{EN, l.cat}
}

// T returns the message key in l, formatted with args when there are any. A
// key missing from the catalogue shows as "[[key]]" so that it is noticed;
// Pages.Check finds every key the templates name that is missing.
func (l Lang) T(key string, args ...any) string {
	m, ok := l.cat.msgs[key]
	if !ok {
		return "[[" + key + "]]"
	}
	s := m.ZH
	if l.tag == EN {
		s = m.EN
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Has reports whether the catalogue holds key.
func (l Lang) Has(key string) bool {
	_, ok := l.cat.msgs[key]
	return ok
}

// Reason translates a reason a service gave (services and the gate answer
// in English); a reason with no translation is shown as it is, capitalised
// in English.
func (l Lang) Reason(s string) string {
	if l.tag == ZH {
		if zh, ok := l.cat.reasons[s]; ok {
			return zh
		}
		return s
	}
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseLang maps a tag (from the cookie or the switch link) to a page
// language; false when it names none.
func parseLang(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "zh" || strings.HasPrefix(s, "zh-") || strings.HasPrefix(s, "zh_"):
		return ZH, true
	case s == "en" || strings.HasPrefix(s, "en-") || strings.HasPrefix(s, "en_"):
		return EN, true
	}
	return "", false
}

// negotiateLang picks the page language from an Accept-Language header: the
// most preferred zh* or en* range wins; anything else means Chinese.
func negotiateLang(header string) string {
	type choice struct {
		l string
		q float64
		i int
	}
	var cs []choice
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := parseLang(tag); ok && q > 0 {
			cs = append(cs, choice{l, q, i})
		}
	}
	if len(cs) == 0 {
		return ZH
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].q > cs[b].q })
	return cs[0].l
}

var verb = regexp.MustCompile(`%[sdvq]`)

// checkMsg says what is wrong with a message, or "".
func checkMsg(key string, m Msg) string {
	if m.ZH == "" || m.EN == "" {
		return fmt.Sprintf("message %q lacks a language", key)
	}
	if zh, en := verb.FindAllString(m.ZH, -1), verb.FindAllString(m.EN, -1); strings.Join(zh, "") != strings.Join(en, "") {
		return fmt.Sprintf("message %q has arguments %v in Chinese, %v in English", key, zh, en)
	}
	return ""
}

// messages are the kit's own: the layout, the home page, the language
// switch, the forms' common words and the error page. Each domain adds its
// own with Pages.AddMessages.
var messages = map[string]Msg{
	"app.name":       {"暖新", "Nuanxin"},
	"app.tagline":    {"新就业群体的城市治理参与与积分激励平台", "Civic participation and rewards for the new workforce"},
	"lang.switch":    {"English", "中文"},
	"nav.home":       {"首页", "Home"},
	"nav.login":      {"登录", "Log in"},
	"nav.register":   {"注册", "Register"},
	"nav.logout":     {"退出登录", "Log out"},
	"nav.main":       {"主导航", "Main navigation"},
	"footer.text":    {"暖新 · 10分钟响应、24小时跟踪", "Nuanxin · respond within 10 minutes, follow up within 24 hours"},
	"footer.privacy": {"隐私说明", "Privacy notice"},

	"home.title":          {"首页", "Home"},
	"home.lead":           {"暖新让外卖骑手、快递员和网约车司机随手拍下路上的隐患和问题，几秒钟就能上报给负责该网格的网格员。", "Nuanxin lets delivery riders, couriers and ride-hailing drivers snap a hazard or problem on their route and report it in seconds to the grid officer responsible for that area."},
	"home.riders.title":   {"骑手随手拍", "Riders report"},
	"home.riders.text":    {"井盖破损、信号灯故障、消防通道被堵……拍照上报，核实后获得积分，可在驿站兑换餐食、充电、保险补贴和培训。", "A broken manhole cover, a dead traffic light, a blocked fire exit: snap it, and earn points when it is verified, to redeem at stations for meals, charging, insurance subsidies and training."},
	"home.officers.title": {"网格员响应", "Officers respond"},
	"home.officers.text":  {"每条上报自动派给所在网格的网格员：10分钟响应、24小时跟踪，核实或说明理由，直到解决。", "Every report goes to the officer of the cell where it happened: acknowledge within 10 minutes, follow up within 24 hours, verify or give a reason, see it resolved."},
	"home.councils.title": {"驿站议事会", "Station councils"},
	"home.councils.text":  {"在暖新驿站和司机之家，大家提出建议、相互支持、投票表决，结果公开并跟进落实。", "At each rest station, the workers who use it raise feedback, support each other's items and vote on proposals; results are published and followed up."},
	"home.anon":           {"登录后即可上报问题、查看积分。还没有账户？骑手可以自行注册。", "Log in to report problems and see your points. No account yet? Riders can register themselves."},
	"home.register":       {"骑手注册", "Register as a rider"},
	"home.hello":          {"你好，%s", "Hello, %s"},
	"home.role":           {"身份：%s", "Role: %s"},
	"home.links":          {"你可以使用", "What you can use"},
	"home.no_links":       {"更多功能即将上线。", "More is coming soon."},

	"err.csrf":     {"页面已过期（表单安全令牌不匹配）。请重新提交。", "This page had expired (its security token did not match). Please submit again."},
	"err.bad_lang": {"不支持这种语言。", "That language is not offered."},
	"err.form":     {"请修改下面标出的内容。", "Please correct the marked fields."},

	"error.title":     {"出错了", "Something went wrong"},
	"error.400":       {"请求有误", "Bad request"},
	"error.401":       {"需要登录", "Please log in"},
	"error.403":       {"没有权限", "Not allowed"},
	"error.404":       {"页面不存在", "Page not found"},
	"error.405":       {"不支持此操作", "Not supported"},
	"error.413":       {"内容太大", "Too large"},
	"error.429":       {"操作太频繁", "Too many requests"},
	"error.500":       {"服务器出错", "Server error"},
	"error.503":       {"服务暂时不可用", "Service unavailable"},
	"error.status":    {"错误代码 %d", "Error %d"},
	"error.home":      {"返回首页", "Back to the home page"},
	"error.login":     {"去登录", "Log in"},
	"error.forbidden": {"你的账户无权进行此操作（%s）。", "Your account is not allowed to do this (%s)."},
	"error.nothing":   {"这里什么也没有：%s", "There is nothing at %s."},
	"error.too_large": {"提交的内容太大：最多 %s。", "The request is too large: at most %s."},
}

// reasons translates the English reasons the gate and the server give into
// Chinese. The English text is the key: it is what they say. Each domain
// adds its services' reasons with Pages.AddReasons.
var reasons = map[string]string{
	"The form's security token is missing or stale; reload the page and try again.": "表单的安全令牌缺失或已过期，请刷新页面后重试。",
	"Log in to do this.": "请先登录。",
	"Your session has ended or the token is not valid; log in again.": "登录已失效，请重新登录。",
	"Sign-in could not be checked just now; try again in a moment.":   "暂时无法验证登录状态，请稍后再试。",
	"Something went wrong on our side; please try again.":             "我们这边出了点问题，请重试。",
}
