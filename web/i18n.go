package web

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// lang is a page language: a BCP 47 tag the pages are written in.
type lang string

// Page languages. Simplified Chinese comes first: it is the default.
const (
	langZH lang = "zh-CN"
	langEN lang = "en"
)

// langs lists the page languages, the default first.
var langs = []lang{langZH, langEN}

// langCookie remembers the language a visitor switched to.
const langCookie = "nx_lang"

// parseLang maps a tag (from the cookie or the switch link) to a page
// language; false when it names none.
func parseLang(s string) (lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "zh" || strings.HasPrefix(s, "zh-") || strings.HasPrefix(s, "zh_"):
		return langZH, true
	case s == "en" || strings.HasPrefix(s, "en-") || strings.HasPrefix(s, "en_"):
		return langEN, true
	}
	return "", false
}

// negotiateLang picks the page language from an Accept-Language header: the
// most preferred zh* or en* range wins; anything else means Chinese.
func negotiateLang(header string) lang {
	type choice struct {
		l lang
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
		return langZH
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].q > cs[b].q })
	return cs[0].l
}

// other is the language the switch link offers.
func (l lang) other() lang {
	if l == langEN {
		return langZH
	}
	return langEN
}

// T returns the message key in l, formatted with args when there are any. A
// key missing from the table shows as "[[key]]" so that it is noticed; a test
// checks every key the templates use.
func (l lang) T(key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return "[[" + key + "]]"
	}
	s := m.zh
	if l == langEN {
		s = m.en
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// reason translates a reason a service gave (accounts, grid and the gate
// answer in English); a reason not in the table is shown as it is.
func (l lang) reason(s string) string {
	if l == langZH {
		if zh, ok := serviceZH[s]; ok {
			return zh
		}
		return s
	}
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// msg is one UI string in both languages.
type msg struct{ zh, en string }

// messages holds every UI string of the pages, by key. Templates use them
// through the t function; Go code through lang.T.
var messages = map[string]msg{
	"app.name":     {"暖新", "Nuanxin"},
	"app.tagline":  {"新就业群体的城市治理参与与积分激励平台", "Civic participation and rewards for the new workforce"},
	"lang.switch":  {"English", "中文"},
	"nav.home":     {"首页", "Home"},
	"nav.users":    {"账户管理", "Accounts"},
	"nav.grid":     {"网格地图", "Grid map"},
	"nav.login":    {"登录", "Log in"},
	"nav.register": {"注册", "Register"},
	"nav.logout":   {"退出登录", "Log out"},
	"nav.main":     {"主导航", "Main navigation"},
	"footer.text":  {"暖新 · 10分钟响应、24小时跟踪", "Nuanxin · respond within 10 minutes, follow up within 24 hours"},

	"kind.rider":         {"骑手", "Rider"},
	"kind.officer":       {"网格员", "Grid officer"},
	"kind.station_admin": {"驿站管理员", "Station admin"},
	"kind.admin":         {"管理员", "Administrator"},

	"work.food_delivery": {"外卖骑手", "Food delivery"},
	"work.courier":       {"快递员", "Courier"},
	"work.ride_hailing":  {"网约车司机", "Ride-hailing driver"},
	"work.other":         {"其他", "Other"},

	"home.title":          {"首页", "Home"},
	"home.lead":           {"暖新让外卖骑手、快递员和网约车司机随手拍下路上的隐患和问题，几秒钟就能上报给负责该网格的网格员。", "Nuanxin lets delivery riders, couriers and ride-hailing drivers snap a hazard or problem on their route and report it in seconds to the grid officer responsible for that area."},
	"home.riders.title":   {"骑手随手拍", "Riders report"},
	"home.riders.text":    {"井盖破损、信号灯故障、消防通道被堵……拍照上报，核实后获得积分，可在驿站兑换餐食、充电、保险补贴和培训。", "A broken manhole cover, a dead traffic light, a blocked fire exit: snap it, and earn points when it is verified, to redeem at stations for meals, charging, insurance subsidies and training."},
	"home.officers.title": {"网格员响应", "Officers respond"},
	"home.officers.text":  {"每条上报自动派给所在网格的网格员：10分钟响应、24小时跟踪，核实或说明理由，直到解决。", "Every report goes to the officer of the cell where it happened: acknowledge within 10 minutes, follow up within 24 hours, verify or give a reason, see it resolved."},
	"home.councils.title": {"驿站议事会", "Station councils"},
	"home.councils.text":  {"在暖新驿站和司机之家，大家提出建议、相互支持、投票表决，结果公开并跟进落实。", "At each rest station, the workers who use it raise feedback, support each other's items and vote on proposals; results are published and followed up."},
	"home.anon":           {"登录后即可上报问题、查看积分。还没有账户？骑手可以自行注册。", "Log in to report problems and see your points. No account yet? Riders can register themselves."},
	"home.hello":          {"你好，%s", "Hello, %s"},
	"home.role":           {"身份：%s", "Role: %s"},
	"home.links":          {"你可以使用", "What you can use"},
	"home.no_links":       {"更多功能即将上线。", "More is coming soon."},
	"home.users":          {"账户管理：创建网格员和管理员，停用或启用账户", "Accounts: create officers and admins, disable or enable accounts"},
	"home.grid":           {"网格地图：导入网格、指派网格员", "Grid map: import the map, assign officers"},
	"home.grid_read":      {"网格地图：查看网格和负责的网格员", "Grid map: see the cells and their officers"},

	"login.title":      {"登录", "Log in"},
	"login.login":      {"手机号或用户名", "Mobile number or username"},
	"login.password":   {"密码", "Password"},
	"login.submit":     {"登录", "Log in"},
	"login.no_account": {"还没有账户？", "No account yet?"},
	"login.register":   {"骑手注册", "Register as a rider"},

	"register.title":        {"骑手注册", "Register as a rider"},
	"register.phone":        {"手机号", "Mobile number"},
	"register.phone_hint":   {"中国大陆手机号，用于登录", "Mainland China mobile number, used to log in"},
	"register.display_name": {"称呼", "Name"},
	"register.name_hint":    {"网格员和驿站看到的名字", "The name officers and stations see"},
	"register.password":     {"密码", "Password"},
	"register.pw_hint":      {"至少 8 个字符", "At least 8 characters"},
	"register.work":         {"你的工作", "Your work"},
	"register.submit":       {"注册并登录", "Register and log in"},
	"register.have_account": {"已有账户？", "Have an account?"},

	"users.title":         {"账户管理", "Accounts"},
	"users.create":        {"创建员工账户", "Create a staff account"},
	"users.username":      {"用户名", "Username"},
	"users.username_hint": {"小写字母开头，3–32 个字符", "A lower-case letter first, 3–32 characters"},
	"users.display_name":  {"姓名", "Name"},
	"users.password":      {"初始密码", "Initial password"},
	"users.kind":          {"类型", "Kind"},
	"users.submit":        {"创建账户", "Create account"},
	"users.list":          {"全部账户（%d）", "All accounts (%d)"},
	"users.col.name":      {"姓名", "Name"},
	"users.col.login":     {"登录名", "Login"},
	"users.col.kind":      {"类型", "Kind"},
	"users.col.state":     {"状态", "State"},
	"users.col.created":   {"创建时间", "Created"},
	"users.col.action":    {"操作", "Action"},
	"users.enabled":       {"正常", "Enabled"},
	"users.disabled":      {"已停用", "Disabled"},
	"users.disable":       {"停用", "Disable"},
	"users.enable":        {"启用", "Enable"},
	"users.you":           {"当前账户", "You"},
	"users.none":          {"还没有账户。", "No accounts yet."},

	"grid.title":         {"网格地图", "Grid map"},
	"grid.map_label":     {"网格地图：每个格子是一个网格", "The grid map: each shape is one cell"},
	"grid.empty":         {"还没有网格地图。请上传 GeoJSON 文件导入。", "There is no grid map yet. Upload a GeoJSON file to import one."},
	"grid.empty_read":    {"还没有网格地图。", "There is no grid map yet."},
	"grid.count":         {"共 %d 个网格，%d 个尚无主责网格员", "%d cells, %d without a primary officer"},
	"grid.legend.ok":     {"已指派主责网格员", "Has a primary officer"},
	"grid.legend.none":   {"尚无主责网格员", "No primary officer"},
	"grid.import":        {"导入网格地图", "Import the grid map"},
	"grid.import_help":   {"GeoJSON FeatureCollection，要素为 Polygon 或 MultiPolygon，属性 code、name、district，坐标为 WGS-84 [经度, 纬度]。", "A GeoJSON FeatureCollection of Polygon or MultiPolygon features with properties code, name and district, in WGS-84 [longitude, latitude]."},
	"grid.file":          {"GeoJSON 文件", "GeoJSON file"},
	"grid.mode":          {"导入方式", "Mode"},
	"grid.mode.replace":  {"替换：文件成为整张地图", "Replace: the file becomes the whole map"},
	"grid.mode.merge":    {"合并：按编码新增或替换网格", "Merge: add or replace cells by code"},
	"grid.import_submit": {"上传并导入", "Upload and import"},
	"grid.problems":      {"地图没有导入，请修改文件后重试（要素从 0 开始编号）：", "The map was not imported; fix the file and try again (features are counted from 0):"},
	"grid.problem":       {"要素 %d：%s", "feature %d: %s"},
	"grid.problem_code":  {"要素 %d（编码 %s）：%s", "feature %d (code %s): %s"},
	"grid.problems_more": {"……另有 %d 个问题", "… and %d more"},
	"grid.cells":         {"网格列表", "Cells"},
	"grid.col.code":      {"编码", "Code"},
	"grid.col.name":      {"名称", "Name"},
	"grid.col.district":  {"区", "District"},
	"grid.col.primary":   {"主责网格员", "Primary officer"},
	"grid.col.backup":    {"备岗网格员", "Backup officer"},
	"grid.col.assign":    {"指派", "Assign"},
	"grid.primary":       {"主责", "Primary"},
	"grid.backup":        {"备岗", "Backup"},
	"grid.choose":        {"请选择", "Choose"},
	"grid.no_backup":     {"（无）", "(none)"},
	"grid.nobody":        {"未指派", "Unassigned"},
	"grid.assign_submit": {"保存", "Save"},
	"grid.no_officers":   {"还没有可指派的网格员，请先在账户管理中创建。", "There are no officers to assign yet; create them under Accounts first."},

	"flash.logged_in":      {"已登录。", "You are logged in."},
	"flash.logged_out":     {"已退出登录。", "You have logged out."},
	"flash.registered":     {"注册成功，欢迎加入暖新！", "You are registered. Welcome to Nuanxin!"},
	"flash.register_login": {"注册成功，请登录。", "You are registered; please log in."},
	"flash.user_created":   {"已创建账户 %s（%s）。", "Created the account %s (%s)."},
	"flash.user_disabled":  {"已停用 %s。", "Disabled %s."},
	"flash.user_enabled":   {"已启用 %s。", "Enabled %s."},
	"flash.imported":       {"地图已导入：新增 %s，更新 %s，删除 %s，现共 %s 个网格。", "Map imported: %s added, %s updated, %s removed; %s cells now."},
	"flash.assigned":       {"已为网格 %s 指派主责网格员 %s。", "%s now has %s as primary officer."},

	"err.csrf":            {"页面已过期（表单安全令牌不匹配）。请重新提交。", "This page had expired (its security token did not match). Please submit again."},
	"err.bad_credentials": {"手机号/用户名或密码错误。", "The mobile number/username or password is wrong."},
	"err.disabled":        {"该账户已被停用，请联系你的驿站或网格办。", "This account has been disabled; contact your station or grid office."},
	"err.throttled":       {"该账户登录失败次数过多，请 %d 分钟后再试。", "Too many failed logins for this account; try again in %d minute(s)."},
	"err.throttled_addr":  {"你的网络地址登录失败次数过多，请 %d 分钟后再试。", "Too many failed logins from your network address; try again in %d minute(s)."},
	"err.taken":           {"该手机号或用户名已被注册。", "That mobile number or username is already registered."},
	"err.self":            {"不能停用自己的账户。", "You cannot disable your own account."},
	"err.no_account":      {"没有这个账户。", "There is no such account."},
	"err.bad_disabled":    {"停用状态只能是 true 或 false。", "The disabled state must be true or false."},
	"err.no_cell":         {"没有编码为 %s 的网格。", "There is no cell with the code %s."},
	"err.same_officer":    {"主责和备岗网格员必须是不同的人。", "The primary and the backup officer must be different people."},
	"err.no_file":         {"请选择要上传的 GeoJSON 文件。", "Choose a GeoJSON file to upload."},
	"err.bad_mode":        {"请选择导入方式：替换或合并。", "Choose how to import: replace or merge."},
	"err.bad_lang":        {"不支持这种语言。", "That language is not offered."},
	"err.form":            {"请修改下面标出的内容。", "Please correct the marked fields."},

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
	"error.too_large": {"提交的内容太大：最多 %d MB。", "The request is too large: at most %d MB."},
}

// serviceZH translates the English reasons that services and the gate give
// into Chinese. The English text is the key: it is what the services say.
var serviceZH = map[string]string{
	// accounts
	"enter a mainland China mobile number: 11 digits starting with 13–19, e.g. 13800138000": "请输入中国大陆手机号：以 13–19 开头的 11 位数字，例如 13800138000",
	"3–32 characters: a letter first, then letters, digits, '_', '.' or '-'":                "3–32 个字符：以字母开头，之后可用字母、数字、“_”、“.”或“-”",
	"enter a name of 1 to 32 characters":                                                    "请输入 1 到 32 个字的名字",
	"the name contains characters that cannot be shown":                                     "名字里有无法显示的字符",
	"the password is not valid text":                                                        "密码不是有效的文本",
	"use at least 8 characters":                                                             "密码至少需要 8 个字符",
	"use at most 128 bytes":                                                                 "密码最多 128 字节",
	"the password must not be your phone number or username":                                "密码不能与手机号或用户名相同",
	"choose one of food_delivery, courier, ride_hailing, other":                             "请选择你的工作",
	"choose one of officer, station_admin, admin":                                           "请选择账户类型",
	"enter your mobile number or username":                                                  "请输入手机号或用户名",
	// grid
	"the account is not an enabled officer": "该账户不是已启用的网格员",
	"choose the primary officer":            "请选择主责网格员",
	// gate and application
	"The form's security token is missing or stale; reload the page and try again.": "表单的安全令牌缺失或已过期，请刷新页面后重试。",
	"Log in to do this.": "请先登录。",
	"Your session has ended or the token is not valid; log in again.": "登录已失效，请重新登录。",
	"Sign-in could not be checked just now; try again in a moment.":   "暂时无法验证登录状态，请稍后再试。",
	"Something went wrong on our side; please try again.":             "我们这边出了点问题，请重试。",
}
