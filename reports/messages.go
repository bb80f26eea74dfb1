package reports

import "github.com/nuanxin/nuanxin/web"

// pageMessages are the words of the report pages: the rider's form and
// list, a report with its timeline and actions, the officers' queue,
// escalations and figures, and the live updates of those pages.
var pageMessages = map[string]web.Msg{
	"nav.report":      {ZH: "上报问题", EN: "Report a problem"},
	"nav.mine":        {ZH: "我的上报", EN: "My reports"},
	"nav.queue":       {ZH: "工作台", EN: "Queue"},
	"nav.escalations": {ZH: "督办", EN: "Escalations"},
	"nav.figures":     {ZH: "统计", EN: "Figures"},

	"status.submitted":    {ZH: "已提交", EN: "Submitted"},
	"status.acknowledged": {ZH: "已受理", EN: "Acknowledged"},
	"status.verified":     {ZH: "已核实", EN: "Verified"},
	"status.in_progress":  {ZH: "处理中", EN: "In progress"},
	"status.resolved":     {ZH: "已解决", EN: "Resolved"},
	"status.rejected":     {ZH: "未采纳", EN: "Rejected"},

	"action.submit":            {ZH: "提交上报", EN: "Submitted"},
	"action.acknowledge":       {ZH: "确认收到", EN: "Acknowledge"},
	"action.verify":            {ZH: "核实", EN: "Verify"},
	"action.reject":            {ZH: "不予采纳", EN: "Reject"},
	"action.handover":          {ZH: "转交其他网格", EN: "Hand over"},
	"action.start":             {ZH: "开始处理", EN: "Start work"},
	"action.resolve":           {ZH: "标记已解决", EN: "Resolve"},
	"action.reopen":            {ZH: "重新打开", EN: "Reopen"},
	"action.confirm_duplicate": {ZH: "确认为重复上报", EN: "Confirm duplicate"},
	"action.unlink_duplicate":  {ZH: "取消重复关联", EN: "Not a duplicate"},
	"action.escalate_ack":      {ZH: "超时未确认，已督办", EN: "Not acknowledged in time: escalated"},
	"action.escalate_decide":   {ZH: "超时未核实，已督办", EN: "Not decided in time: escalated"},
	"action.photo_unreadable":  {ZH: "照片无法读取", EN: "A photo cannot be read"},

	"role.rider":   {ZH: "骑手", EN: "Rider"},
	"role.officer": {ZH: "网格员", EN: "Grid officer"},
	"role.admin":   {ZH: "管理员", EN: "Administrator"},
	"role.system":  {ZH: "系统", EN: "System"},

	"severity.1": {ZH: "一般", EN: "Minor"},
	"severity.2": {ZH: "较重", EN: "Serious"},
	"severity.3": {ZH: "紧急", EN: "Urgent"},

	"reason.not_a_problem":         {ZH: "不属于需要处理的问题", EN: "Not a problem"},
	"reason.duplicate":             {ZH: "重复上报", EN: "Duplicate"},
	"reason.outside_area":          {ZH: "不在本辖区", EN: "Outside the area"},
	"reason.insufficient_evidence": {ZH: "照片或信息不足", EN: "Insufficient evidence"},
	"reason.abusive":               {ZH: "内容不当", EN: "Abusive"},

	"source.device": {ZH: "手机定位", EN: "device location"},
	"source.photo":  {ZH: "照片 GPS", EN: "photo GPS"},
	"source.manual": {ZH: "手动选择", EN: "picked by hand"},

	"cell.none": {ZH: "网格外（待管理员分派）", EN: "Outside the map (admin assigns)"},
	"list.sep":  {ZH: "、", EN: ", "},

	"dur.min":    {ZH: "%d 分钟", EN: "%d min"},
	"dur.hm":     {ZH: "%d 小时 %d 分", EN: "%d h %d min"},
	"dur.days":   {ZH: "%d 天", EN: "%d days"},
	"due.left":   {ZH: "剩余 %s", EN: "%s left"},
	"due.over":   {ZH: "已超时 %s", EN: "%s overdue"},
	"due.ack":    {ZH: "确认时限", EN: "Acknowledge by"},
	"due.decide": {ZH: "核实时限", EN: "Decide by"},
	"due.follow": {ZH: "跟进时限", EN: "Follow up by"},

	"badge.escalated":           {ZH: "已督办", EN: "Escalated"},
	"badge.near_border":         {ZH: "临近网格边界", EN: "Near the border"},
	"badge.duplicate":           {ZH: "疑似重复", EN: "Probable duplicate"},
	"badge.duplicate_confirmed": {ZH: "重复上报", EN: "Duplicate"},

	"report.title":            {ZH: "上报问题", EN: "Report a problem"},
	"report.camera":           {ZH: "拍照", EN: "Take a photo"},
	"report.camera_hint":      {ZH: "最多 %d 张，可再次点击添加", EN: "Up to %d; tap again to add more"},
	"report.category":         {ZH: "问题类型", EN: "What kind of problem"},
	"report.where":            {ZH: "位置", EN: "Where"},
	"report.where_nojs":       {ZH: "没有位置时将使用照片里的 GPS 信息；也可以手动填写坐标。", EN: "Without a position the photo's GPS is used; you can also enter coordinates."},
	"report.pick":             {ZH: "手动选择位置", EN: "Pick the place by hand"},
	"report.pick_hint":        {ZH: "在地图上点一下问题所在的位置，或填写坐标（WGS-84）。", EN: "Tap the place on the map, or enter the coordinates (WGS-84)."},
	"report.lat":              {ZH: "纬度", EN: "Latitude"},
	"report.lng":              {ZH: "经度", EN: "Longitude"},
	"report.map_label":        {ZH: "网格地图：点一下选择位置", EN: "Grid map: tap to pick the place"},
	"report.map_hint":         {ZH: "地图显示各网格的边界和编码。", EN: "The map shows each grid cell with its code."},
	"report.description":      {ZH: "问题描述", EN: "Description"},
	"report.description_hint": {ZH: "例如：井盖缺失，夜间很危险", EN: "e.g. manhole cover missing, dangerous at night"},
	"report.max_chars":        {ZH: "最多 %d 字", EN: "At most %d characters"},
	"report.optional":         {ZH: "（选填）", EN: "(optional)"},
	"report.address":          {ZH: "地址", EN: "Address"},
	"report.address_hint":     {ZH: "例如：五一大道与黄兴路口东北角", EN: "e.g. north-east corner of Wuyi Ave and Huangxing Rd"},
	"report.submit":           {ZH: "提交上报", EN: "Send report"},
	"report.cancel":           {ZH: "停止发送并修改", EN: "Stop sending and edit"},
	"report.photo_n":          {ZH: "第 %d 张照片", EN: "Photo %d"},
	"report.after_photo":      {ZH: "处理后照片", EN: "After-photo"},
	"report.ack_promise":      {ZH: "网格员将在 %s 前确认收到。", EN: "The grid officer will acknowledge it by %s."},
	"report.unavailable":      {ZH: "服务暂时不可用，上报没有保存，请稍后重试。", EN: "The service is briefly unavailable; your report was not saved, try again."},

	"report.bad.category":    {ZH: "请选择问题类型。", EN: "Choose what kind of problem it is."},
	"report.bad.photos":      {ZH: "请添加 1 到 3 张照片。", EN: "Add 1 to 3 photos."},
	"report.bad.description": {ZH: "问题描述最多 500 字，且不能包含无法显示的字符。", EN: "The description takes at most 500 characters that can be shown."},
	"report.bad.address":     {ZH: "地址最多 200 字，且不能包含无法显示的字符。", EN: "The address takes at most 200 characters that can be shown."},
	"report.bad.coords":      {ZH: "坐标无效：纬度在 -90 到 90 之间，经度在 -180 到 180 之间，例如 28.1941 和 112.9823。", EN: "Those coordinates are not valid: latitude from -90 to 90, longitude from -180 to 180, e.g. 28.1941 and 112.9823."},
	"report.bad.location":    {ZH: "没有位置：手机没有提供定位，照片里也没有 GPS 信息。请允许定位，或手动选择位置。", EN: "No position: the phone gave none and the photo carries no GPS. Allow location access or pick the place by hand."},
	"report.bad.key":         {ZH: "页面已过期，请刷新后重新提交。", EN: "This page has expired; reload it and send again."},
	"report.bad.idem":        {ZH: "这份上报已经用不同的内容提交过了。请重新提交。", EN: "This report was already sent with different content. Please send it again."},

	"photo.too_large":          {ZH: "照片超过 10 MB，请发送小一些的照片或降低相机分辨率。", EN: "The photo is larger than 10 MB; send a smaller one or lower the camera's resolution."},
	"photo.unsupported_format": {ZH: "无法读取这种照片格式，请发送 JPEG、PNG 或 WebP 照片（iPhone 可在“设置 › 相机 › 格式”中选择“兼容性最佳”）。", EN: "We cannot read this photo format; send a JPEG, PNG or WebP photo (on an iPhone: Settings › Camera › Formats › Most Compatible)."},
	"photo.not_an_image":       {ZH: "照片已损坏或不完整，请重新拍摄。", EN: "The photo is damaged or incomplete; take it again."},
	"photo.too_many_pixels":    {ZH: "照片像素太多，请降低相机分辨率后重新拍摄。", EN: "The photo has too many pixels; lower the camera's resolution and take it again."},

	"report.js.locating":    {ZH: "正在获取位置…", EN: "Finding your position…"},
	"report.js.located":     {ZH: "已定位，精度约 {n} 米。", EN: "Position found, accurate to about {n} m."},
	"report.js.no_geo":      {ZH: "无法获取手机定位。将使用照片里的 GPS 信息（如果有）；没有的话请手动选择位置。", EN: "Could not get the phone's position. The photo's GPS will be used if it has one; otherwise pick the place by hand."},
	"report.js.manual":      {ZH: "已手动选择位置：{lat}, {lng}", EN: "Place picked by hand: {lat}, {lng}"},
	"report.js.too_many":    {ZH: "最多只能添加 {n} 张照片。", EN: "You can add at most {n} photos."},
	"report.js.remove":      {ZH: "删除", EN: "Remove"},
	"report.js.preparing":   {ZH: "正在压缩照片…", EN: "Preparing the photos…"},
	"report.js.saving":      {ZH: "正在保存… {p}%", EN: "Saving… {p}%"},
	"report.js.offline":     {ZH: "网络不通，{n} 秒后重试（第 {k} 次）", EN: "No connection; retrying in {n} s (attempt {k})"},
	"report.js.server":      {ZH: "服务器暂时出错，{n} 秒后重试（第 {k} 次）", EN: "The server had a problem; retrying in {n} s (attempt {k})"},
	"report.js.saved":       {ZH: "已保存！", EN: "Saved!"},
	"report.js.resume":      {ZH: "上次的上报还没有保存成功，正在继续发送。", EN: "Your last report was not saved yet; sending it again."},
	"report.js.lost":        {ZH: "上次的上报可能没有保存成功，请重新添加照片后提交。", EN: "Your last report may not have been saved; add the photos again and send."},
	"report.js.refused":     {ZH: "没有保存：", EN: "Not saved: "},
	"report.js.login":       {ZH: "登录已失效，请重新登录；登录后会继续发送。", EN: "Your session has ended; log in again and the report will be sent."},
	"report.js.undecodable": {ZH: "无法预览", EN: "No preview"},

	"mine.title": {ZH: "我的上报", EN: "My reports"},
	"mine.none":  {ZH: "你还没有上报过问题。", EN: "You have not reported anything yet."},

	"view.title":         {ZH: "上报详情", EN: "Report"},
	"view.back_mine":     {ZH: "← 我的上报", EN: "← My reports"},
	"view.back_queue":    {ZH: "← 工作台", EN: "← Queue"},
	"view.severity":      {ZH: "严重程度", EN: "Severity"},
	"view.reject_reason": {ZH: "原因", EN: "Reason"},
	"view.created":       {ZH: "上报时间", EN: "Reported"},
	"view.cell":          {ZH: "网格", EN: "Grid cell"},
	"view.location":      {ZH: "位置", EN: "Position"},
	"view.duplicate_of":  {ZH: "与此上报重复", EN: "Duplicate of"},
	"view.map_label":     {ZH: "上报位置所在的网格", EN: "The grid cell where it was reported"},
	"view.source":        {ZH: "（%s）", EN: "(%s)"},
	"view.timeline":      {ZH: "处理进度", EN: "Progress"},
	"view.in_cell":       {ZH: "网格 %s", EN: "cell %s"},
	"view.no_photo":      {ZH: "未附照片（经 Open311 提交），请到现场核实。", EN: "No photo: filed through Open311 without one; check the place itself."},

	"act.title":            {ZH: "处理", EN: "Act"},
	"act.acknowledge_hint": {ZH: "告诉骑手你已经看到了这条上报。", EN: "Tell the rider you have seen it."},
	"act.note":             {ZH: "备注", EN: "Note"},
	"act.after_photo":      {ZH: "处理后照片", EN: "After-photo"},
	"act.to_cell":          {ZH: "转交给网格", EN: "Hand over to cell"},
	"act.handover_why":     {ZH: "转交原因", EN: "Why it belongs there"},
	"act.choose":           {ZH: "请选择", EN: "Choose"},
	"act.none":             {ZH: "无", EN: "none"},
	"act.not_now":          {ZH: "现在不能“%s”：这条上报的状态是“%s”。现在可以：%s。", EN: "You cannot %s now: the report is %s. Allowed now: %s."},
	"act.conflict":         {ZH: "这条上报刚刚被其他人修改，请刷新后重试。", EN: "The report was changed by someone else just now; reload and try again."},
	"act.bad.severity":     {ZH: "请选择严重程度（1 一般 – 3 紧急）。", EN: "Choose a severity from 1 (minor) to 3 (urgent)."},
	"act.bad.reason":       {ZH: "请选择原因。", EN: "Choose a reason."},
	"act.bad.cell":         {ZH: "请选择另一个存在的网格。", EN: "Choose another cell that exists on the map."},
	"act.bad.note":         {ZH: "请写明原因（最多 500 字）。", EN: "Say why (at most 500 characters)."},
	"act.bad.action":       {ZH: "现在不能进行这个操作。", EN: "That action cannot be taken on this report."},

	"queue.title":      {ZH: "工作台", EN: "Queue"},
	"queue.status":     {ZH: "状态", EN: "Status"},
	"queue.open":       {ZH: "待办（全部未结）", EN: "Open (all)"},
	"queue.all":        {ZH: "全部", EN: "All"},
	"queue.my_cells":   {ZH: "我负责的全部网格", EN: "All my cells"},
	"queue.unassigned": {ZH: "只看无人负责的", EN: "Unassigned only"},
	"queue.filter":     {ZH: "筛选", EN: "Filter"},
	"queue.reset":      {ZH: "清除筛选", EN: "Clear filters"},
	"queue.counts":     {ZH: "各状态数量", EN: "Counts by status"},
	"queue.none":       {ZH: "没有待处理的上报。", EN: "Nothing to handle."},

	"esc.title":  {ZH: "督办", EN: "Escalations"},
	"esc.lead":   {ZH: "超过时限未确认或未核实的上报，按截止时间排序。", EN: "Open reports that missed a deadline, most urgent first."},
	"esc.ack":    {ZH: "超时未确认", EN: "Not acknowledged in time"},
	"esc.decide": {ZH: "超时未核实", EN: "Not decided in time"},
	"esc.none":   {ZH: "没有超时的上报。", EN: "No report missed a deadline."},

	"fig.title":       {ZH: "统计", EN: "Figures"},
	"fig.days":        {ZH: "近 %d 天", EN: "Last %d days"},
	"fig.lead":        {ZH: "近 %d 天内上报的问题。", EN: "Reports made in the last %d days."},
	"fig.by_cell":     {ZH: "按网格", EN: "By cell"},
	"fig.by_officer":  {ZH: "按网格员", EN: "By officer"},
	"fig.col.cell":    {ZH: "网格", EN: "Cell"},
	"fig.col.officer": {ZH: "网格员", EN: "Officer"},
	"fig.col.reports": {ZH: "上报数", EN: "Reports"},
	"fig.col.in_time": {ZH: "按时确认率", EN: "Acknowledged in time"},
	"fig.col.ack":     {ZH: "确认用时（中位数）", EN: "Time to acknowledge (median)"},
	"fig.col.decide":  {ZH: "核实用时（中位数）", EN: "Time to decide (median)"},
	"fig.col.open":    {ZH: "未结", EN: "Open"},
	"fig.none":        {ZH: "这段时间没有上报。", EN: "No reports in this period."},

	"live.sep":        {ZH: "：", EN: ": "},
	"live.updated":    {ZH: "已更新", EN: "Updated"},
	"live.kept":       {ZH: "上报有更新；你正在填写的内容已保留，提交前请先看一下最新进度。", EN: "The report changed; what you are typing was kept, check the latest progress before sending."},
	"live.new_report": {ZH: "新上报", EN: "New report"},

	"flash.report_submitted": {ZH: "上报成功！网格员会尽快处理。", EN: "Report sent! The grid officer will handle it soon."},
	"flash.report_acted":     {ZH: "已完成：%s。", EN: "Done: %s."},

	"err.no_report":     {ZH: "没有这条上报，或者你无权查看。", EN: "There is no such report, or it is not yours to see."},
	"err.not_your_cell": {ZH: "这条上报不在你负责的网格内，不能操作。", EN: "This report is outside the cells where you may act."},
}

// problemKeys maps the stable codes of Problems to the message that tells
// them; a code that is itself a message key (photo.*) needs no entry.
var problemKeys = map[string]string{
	"invalid.category": "report.bad.category", "invalid.description": "report.bad.description", "invalid.address": "report.bad.address",
	"invalid.photos": "report.bad.photos", "invalid.lat": "report.bad.coords", "invalid.lng": "report.bad.coords",
	"invalid.location": "report.bad.location", "invalid.Idempotency-Key": "report.bad.key", "invalid.severity": "act.bad.severity",
	"invalid.reason": "act.bad.reason", "invalid.cell": "act.bad.cell", "invalid.note": "act.bad.note", "invalid.action": "act.bad.action",
	"invalid.after_photo": "act.bad.action", "report.key_reused": "report.bad.idem", "report.conflict": "act.conflict",
	"report.unavailable": "report.unavailable", "report.not_found": "err.no_report", "report.not_your_cell": "err.not_your_cell",
}

// problemText is the message for a problem code in l; fallback (the
// service's English reason) when the code has none, translated if known.
func problemText(l web.Lang, code, fallback string) string {
	key := code
	if k, ok := problemKeys[code]; ok {
		key = k
	}
	if l.Has(key) {
		return l.T(key)
	}
	return l.Reason(fallback)
}
