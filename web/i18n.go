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

// problemKeys maps the stable codes of API problems to the message that
// tells them; a code that is itself a message key (photo.*) needs no entry.
var problemKeys = map[string]string{
	"invalid.category": "report.bad.category", "invalid.description": "report.bad.description", "invalid.address": "report.bad.address",
	"invalid.photos": "report.bad.photos", "invalid.lat": "report.bad.coords", "invalid.lng": "report.bad.coords",
	"invalid.location": "report.bad.location", "invalid.Idempotency-Key": "report.bad.key", "invalid.severity": "act.bad.severity",
	"invalid.reason": "act.bad.reason", "invalid.cell": "act.bad.cell", "invalid.note": "act.bad.note", "invalid.action": "act.bad.action",
	"invalid.after_photo": "act.bad.action", "report.key_reused": "report.bad.idem", "report.conflict": "act.conflict",
	"report.unavailable": "report.unavailable", "report.not_found": "err.no_report", "report.not_your_cell": "err.not_your_cell",
}

// problemText is the message for a problem code in l; fallback (a
// service's English reason) when the code has none, translated if known.
func problemText(l lang, code, fallback string) string {
	key := code
	if k, ok := problemKeys[code]; ok {
		key = k
	}
	if _, ok := messages[key]; ok {
		return l.T(key)
	}
	return l.reason(fallback)
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

	"err.csrf":              {"页面已过期（表单安全令牌不匹配）。请重新提交。", "This page had expired (its security token did not match). Please submit again."},
	"err.bad_credentials":   {"手机号/用户名或密码错误。", "The mobile number/username or password is wrong."},
	"err.disabled":          {"该账户已被停用，请联系你的驿站或网格办。", "This account has been disabled; contact your station or grid office."},
	"err.throttled":         {"该账户在你的网络地址登录失败次数过多，请 %d 分钟后再试。", "Too many failed logins for this account from your network address; try again in %d minute(s)."},
	"err.throttled_account": {"该账户正被多个网络地址反复尝试登录，已暂时锁定，请 %d 分钟后再试。", "Too many failed logins for this account from many network addresses, so it is locked for now; try again in %d minute(s)."},
	"err.throttled_addr":    {"你的网络地址登录失败次数过多，请 %d 分钟后再试。", "Too many failed logins from your network address; try again in %d minute(s)."},
	"err.taken":             {"该手机号或用户名已被注册。", "That mobile number or username is already registered."},
	"err.self":              {"不能停用自己的账户。", "You cannot disable your own account."},
	"err.no_account":        {"没有这个账户。", "There is no such account."},
	"err.bad_disabled":      {"停用状态只能是 true 或 false。", "The disabled state must be true or false."},
	"err.no_cell":           {"没有编码为 %s 的网格。", "There is no cell with the code %s."},
	"err.same_officer":      {"主责和备岗网格员必须是不同的人。", "The primary and the backup officer must be different people."},
	"err.no_file":           {"请选择要上传的 GeoJSON 文件。", "Choose a GeoJSON file to upload."},
	"err.bad_mode":          {"请选择导入方式：替换或合并。", "Choose how to import: replace or merge."},
	"err.bad_lang":          {"不支持这种语言。", "That language is not offered."},
	"err.form":              {"请修改下面标出的内容。", "Please correct the marked fields."},

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
	"view.no_photo":   {"未附照片（经 Open311 提交），请到现场核实。", "No photo: filed through Open311 without one; check the place itself."},
	"error.too_large": {"提交的内容太大：最多 %s。", "The request is too large: at most %s."},

	// Reports, the officers' queue and the inbox (pages_reports.go).
	"nav.report":      {"上报问题", "Report a problem"},
	"nav.mine":        {"我的上报", "My reports"},
	"nav.queue":       {"工作台", "Queue"},
	"nav.escalations": {"督办", "Escalations"},
	"nav.figures":     {"统计", "Figures"},
	"nav.inbox":       {"消息", "Inbox"},

	"status.submitted":    {"已提交", "Submitted"},
	"status.acknowledged": {"已受理", "Acknowledged"},
	"status.verified":     {"已核实", "Verified"},
	"status.in_progress":  {"处理中", "In progress"},
	"status.resolved":     {"已解决", "Resolved"},
	"status.rejected":     {"未采纳", "Rejected"},

	"action.submit":            {"提交上报", "Submitted"},
	"action.acknowledge":       {"确认收到", "Acknowledge"},
	"action.verify":            {"核实", "Verify"},
	"action.reject":            {"不予采纳", "Reject"},
	"action.handover":          {"转交其他网格", "Hand over"},
	"action.start":             {"开始处理", "Start work"},
	"action.resolve":           {"标记已解决", "Resolve"},
	"action.reopen":            {"重新打开", "Reopen"},
	"action.confirm_duplicate": {"确认为重复上报", "Confirm duplicate"},
	"action.unlink_duplicate":  {"取消重复关联", "Not a duplicate"},
	"action.escalate_ack":      {"超时未确认，已督办", "Not acknowledged in time: escalated"},
	"action.escalate_decide":   {"超时未核实，已督办", "Not decided in time: escalated"},

	"role.rider":   {"骑手", "Rider"},
	"role.officer": {"网格员", "Grid officer"},
	"role.admin":   {"管理员", "Administrator"},
	"role.system":  {"系统", "System"},

	"severity.1": {"一般", "Minor"},
	"severity.2": {"较重", "Serious"},
	"severity.3": {"紧急", "Urgent"},

	"reason.not_a_problem":         {"不属于需要处理的问题", "Not a problem"},
	"reason.duplicate":             {"重复上报", "Duplicate"},
	"reason.outside_area":          {"不在本辖区", "Outside the area"},
	"reason.insufficient_evidence": {"照片或信息不足", "Insufficient evidence"},
	"reason.abusive":               {"内容不当", "Abusive"},

	"source.device": {"手机定位", "device location"},
	"source.photo":  {"照片 GPS", "photo GPS"},
	"source.manual": {"手动选择", "picked by hand"},

	"cell.none": {"网格外（待管理员分派）", "Outside the map (admin assigns)"},
	"list.sep":  {"、", ", "},

	"dur.min":    {"%d 分钟", "%d min"},
	"dur.hm":     {"%d 小时 %d 分", "%d h %d min"},
	"dur.days":   {"%d 天", "%d days"},
	"due.left":   {"剩余 %s", "%s left"},
	"due.over":   {"已超时 %s", "%s overdue"},
	"due.ack":    {"确认时限", "Acknowledge by"},
	"due.decide": {"核实时限", "Decide by"},
	"due.follow": {"跟进时限", "Follow up by"},

	"badge.escalated":           {"已督办", "Escalated"},
	"badge.near_border":         {"临近网格边界", "Near the border"},
	"badge.duplicate":           {"疑似重复", "Probable duplicate"},
	"badge.duplicate_confirmed": {"重复上报", "Duplicate"},

	"report.title":            {"上报问题", "Report a problem"},
	"report.camera":           {"拍照", "Take a photo"},
	"report.camera_hint":      {"最多 %d 张，可再次点击添加", "Up to %d; tap again to add more"},
	"report.category":         {"问题类型", "What kind of problem"},
	"report.where":            {"位置", "Where"},
	"report.where_nojs":       {"没有位置时将使用照片里的 GPS 信息；也可以手动填写坐标。", "Without a position the photo's GPS is used; you can also enter coordinates."},
	"report.pick":             {"手动选择位置", "Pick the place by hand"},
	"report.pick_hint":        {"在地图上点一下问题所在的位置，或填写坐标（WGS-84）。", "Tap the place on the map, or enter the coordinates (WGS-84)."},
	"report.lat":              {"纬度", "Latitude"},
	"report.lng":              {"经度", "Longitude"},
	"report.map_label":        {"网格地图：点一下选择位置", "Grid map: tap to pick the place"},
	"report.map_hint":         {"地图显示各网格的边界和编码。", "The map shows each grid cell with its code."},
	"report.description":      {"问题描述", "Description"},
	"report.description_hint": {"例如：井盖缺失，夜间很危险", "e.g. manhole cover missing, dangerous at night"},
	"report.max_chars":        {"最多 %d 字", "At most %d characters"},
	"report.optional":         {"（选填）", "(optional)"},
	"report.address":          {"地址", "Address"},
	"report.address_hint":     {"例如：五一大道与黄兴路口东北角", "e.g. north-east corner of Wuyi Ave and Huangxing Rd"},
	"report.submit":           {"提交上报", "Send report"},
	"report.cancel":           {"停止发送并修改", "Stop sending and edit"},
	"report.photo_n":          {"第 %d 张照片", "Photo %d"},
	"report.after_photo":      {"处理后照片", "After-photo"},
	"report.ack_promise":      {"网格员将在 %s 前确认收到。", "The grid officer will acknowledge it by %s."},
	"report.unavailable":      {"服务暂时不可用，上报没有保存，请稍后重试。", "The service is briefly unavailable; your report was not saved, try again."},

	"report.bad.category":    {"请选择问题类型。", "Choose what kind of problem it is."},
	"report.bad.photos":      {"请添加 1 到 3 张照片。", "Add 1 to 3 photos."},
	"report.bad.description": {"问题描述最多 500 字，且不能包含无法显示的字符。", "The description takes at most 500 characters that can be shown."},
	"report.bad.address":     {"地址最多 200 字，且不能包含无法显示的字符。", "The address takes at most 200 characters that can be shown."},
	"report.bad.coords":      {"坐标无效：纬度在 -90 到 90 之间，经度在 -180 到 180 之间，例如 28.1941 和 112.9823。", "Those coordinates are not valid: latitude from -90 to 90, longitude from -180 to 180, e.g. 28.1941 and 112.9823."},
	"report.bad.location":    {"没有位置：手机没有提供定位，照片里也没有 GPS 信息。请允许定位，或手动选择位置。", "No position: the phone gave none and the photo carries no GPS. Allow location access or pick the place by hand."},
	"report.bad.key":         {"页面已过期，请刷新后重新提交。", "This page has expired; reload it and send again."},
	"report.bad.idem":        {"这份上报已经用不同的内容提交过了。请重新提交。", "This report was already sent with different content. Please send it again."},

	"photo.too_large":          {"照片超过 10 MB，请发送小一些的照片或降低相机分辨率。", "The photo is larger than 10 MB; send a smaller one or lower the camera's resolution."},
	"photo.unsupported_format": {"无法读取这种照片格式，请发送 JPEG、PNG 或 WebP 照片（iPhone 可在“设置 › 相机 › 格式”中选择“兼容性最佳”）。", "We cannot read this photo format; send a JPEG, PNG or WebP photo (on an iPhone: Settings › Camera › Formats › Most Compatible)."},
	"photo.not_an_image":       {"照片已损坏或不完整，请重新拍摄。", "The photo is damaged or incomplete; take it again."},
	"photo.too_many_pixels":    {"照片像素太多，请降低相机分辨率后重新拍摄。", "The photo has too many pixels; lower the camera's resolution and take it again."},

	"report.js.locating":    {"正在获取位置…", "Finding your position…"},
	"report.js.located":     {"已定位，精度约 {n} 米。", "Position found, accurate to about {n} m."},
	"report.js.no_geo":      {"无法获取手机定位。将使用照片里的 GPS 信息（如果有）；没有的话请手动选择位置。", "Could not get the phone's position. The photo's GPS will be used if it has one; otherwise pick the place by hand."},
	"report.js.manual":      {"已手动选择位置：{lat}, {lng}", "Place picked by hand: {lat}, {lng}"},
	"report.js.too_many":    {"最多只能添加 {n} 张照片。", "You can add at most {n} photos."},
	"report.js.remove":      {"删除", "Remove"},
	"report.js.preparing":   {"正在压缩照片…", "Preparing the photos…"},
	"report.js.saving":      {"正在保存… {p}%", "Saving… {p}%"},
	"report.js.offline":     {"网络不通，{n} 秒后重试（第 {k} 次）", "No connection; retrying in {n} s (attempt {k})"},
	"report.js.server":      {"服务器暂时出错，{n} 秒后重试（第 {k} 次）", "The server had a problem; retrying in {n} s (attempt {k})"},
	"report.js.saved":       {"已保存！", "Saved!"},
	"report.js.resume":      {"上次的上报还没有保存成功，正在继续发送。", "Your last report was not saved yet; sending it again."},
	"report.js.lost":        {"上次的上报可能没有保存成功，请重新添加照片后提交。", "Your last report may not have been saved; add the photos again and send."},
	"report.js.refused":     {"没有保存：", "Not saved: "},
	"report.js.login":       {"登录已失效，请重新登录；登录后会继续发送。", "Your session has ended; log in again and the report will be sent."},
	"report.js.undecodable": {"无法预览", "No preview"},

	"mine.title": {"我的上报", "My reports"},
	"mine.none":  {"你还没有上报过问题。", "You have not reported anything yet."},

	"view.title":         {"上报详情", "Report"},
	"view.back_mine":     {"← 我的上报", "← My reports"},
	"view.back_queue":    {"← 工作台", "← Queue"},
	"view.severity":      {"严重程度", "Severity"},
	"view.reject_reason": {"原因", "Reason"},
	"view.created":       {"上报时间", "Reported"},
	"view.cell":          {"网格", "Grid cell"},
	"view.location":      {"位置", "Position"},
	"view.duplicate_of":  {"与此上报重复", "Duplicate of"},
	"view.map_label":     {"上报位置所在的网格", "The grid cell where it was reported"},
	"view.source":        {"（%s）", "(%s)"},
	"view.timeline":      {"处理进度", "Progress"},
	"view.in_cell":       {"网格 %s", "cell %s"},

	"act.title":            {"处理", "Act"},
	"act.acknowledge_hint": {"告诉骑手你已经看到了这条上报。", "Tell the rider you have seen it."},
	"act.note":             {"备注", "Note"},
	"act.after_photo":      {"处理后照片", "After-photo"},
	"act.to_cell":          {"转交给网格", "Hand over to cell"},
	"act.handover_why":     {"转交原因", "Why it belongs there"},
	"act.none":             {"无", "none"},
	"act.not_now":          {"现在不能“%s”：这条上报的状态是“%s”。现在可以：%s。", "You cannot %s now: the report is %s. Allowed now: %s."},
	"act.conflict":         {"这条上报刚刚被其他人修改，请刷新后重试。", "The report was changed by someone else just now; reload and try again."},
	"act.bad.severity":     {"请选择严重程度（1 一般 – 3 紧急）。", "Choose a severity from 1 (minor) to 3 (urgent)."},
	"act.bad.reason":       {"请选择原因。", "Choose a reason."},
	"act.bad.cell":         {"请选择另一个存在的网格。", "Choose another cell that exists on the map."},
	"act.bad.note":         {"请写明原因（最多 500 字）。", "Say why (at most 500 characters)."},
	"act.bad.action":       {"现在不能进行这个操作。", "That action cannot be taken on this report."},

	"queue.title":      {"工作台", "Queue"},
	"queue.status":     {"状态", "Status"},
	"queue.open":       {"待办（全部未结）", "Open (all)"},
	"queue.all":        {"全部", "All"},
	"queue.my_cells":   {"我负责的全部网格", "All my cells"},
	"queue.unassigned": {"只看无人负责的", "Unassigned only"},
	"queue.filter":     {"筛选", "Filter"},
	"queue.reset":      {"清除筛选", "Clear filters"},
	"queue.counts":     {"各状态数量", "Counts by status"},
	"queue.none":       {"没有待处理的上报。", "Nothing to handle."},

	"esc.title":  {"督办", "Escalations"},
	"esc.lead":   {"超过时限未确认或未核实的上报，按截止时间排序。", "Open reports that missed a deadline, most urgent first."},
	"esc.ack":    {"超时未确认", "Not acknowledged in time"},
	"esc.decide": {"超时未核实", "Not decided in time"},
	"esc.none":   {"没有超时的上报。", "No report missed a deadline."},

	"fig.title":       {"统计", "Figures"},
	"fig.days":        {"近 %d 天", "Last %d days"},
	"fig.lead":        {"近 %d 天内上报的问题。", "Reports made in the last %d days."},
	"fig.by_cell":     {"按网格", "By cell"},
	"fig.by_officer":  {"按网格员", "By officer"},
	"fig.col.cell":    {"网格", "Cell"},
	"fig.col.officer": {"网格员", "Officer"},
	"fig.col.reports": {"上报数", "Reports"},
	"fig.col.in_time": {"按时确认率", "Acknowledged in time"},
	"fig.col.ack":     {"确认用时（中位数）", "Time to acknowledge (median)"},
	"fig.col.decide":  {"核实用时（中位数）", "Time to decide (median)"},
	"fig.col.open":    {"未结", "Open"},
	"fig.none":        {"这段时间没有上报。", "No reports in this period."},

	"inbox.title":     {"消息", "Inbox"},
	"inbox.unread":    {"%d 条未读", "%d unread"},
	"inbox.mark_read": {"标为已读", "Mark read"},
	"inbox.none":      {"还没有消息。", "No messages yet."},

	"note.submit":            {"新上报：%s", "New report: %s"},
	"note.acknowledge":       {"你上报的“%s”已被网格员确认收到", "Your report \"%s\" was acknowledged"},
	"note.verify":            {"你上报的“%s”已核实", "Your report \"%s\" was verified"},
	"note.reject":            {"你上报的“%s”未被采纳", "Your report \"%s\" was rejected"},
	"note.handover":          {"你上报的“%s”已转交给其他网格", "Your report \"%s\" was handed over to another cell"},
	"note.handover_in":       {"转交给你的上报：%s", "Handed over to you: %s"},
	"note.start":             {"你上报的“%s”已开始处理", "Work started on your report \"%s\""},
	"note.resolve":           {"你上报的“%s”已解决", "Your report \"%s\" was resolved"},
	"note.reopen":            {"你上报的“%s”已重新打开", "Your report \"%s\" was reopened"},
	"note.confirm_duplicate": {"你上报的“%s”被确认为重复上报", "Your report \"%s\" was confirmed as a duplicate"},
	"note.unlink_duplicate":  {"你上报的“%s”不再被视为重复", "Your report \"%s\" is no longer a duplicate"},
	"note.escalate_ack":      {"超时未确认：%s", "Not acknowledged in time: %s"},
	"note.escalate_decide":   {"超时未核实：%s", "Not decided in time: %s"},
	"note.other":             {"上报有更新：%s", "A report changed: %s"},

	"live.sep":        {"：", ": "},
	"live.updated":    {"已更新", "Updated"},
	"live.kept":       {"上报有更新；你正在填写的内容已保留，提交前请先看一下最新进度。", "The report changed; what you are typing was kept, check the latest progress before sending."},
	"live.new_report": {"新上报", "New report"},
	"live.new_note":   {"新消息", "New message"},

	"flash.report_submitted": {"上报成功！网格员会尽快处理。", "Report sent! The grid officer will handle it soon."},
	"flash.report_acted":     {"已完成：%s。", "Done: %s."},

	"err.no_report":     {"没有这条上报，或者你无权查看。", "There is no such report, or it is not yours to see."},
	"err.not_your_cell": {"这条上报不在你负责的网格内，不能操作。", "This report is outside the cells where you may act."},
	"err.no_note":       {"没有这条消息。", "You have no such message."},
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
