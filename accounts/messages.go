package accounts

import "github.com/nuanxin/nuanxin/web"

// pageMessages are the words of the accounts pages, and the names of the
// account kinds and works, which every page's layout shows for the person
// logged in.
var pageMessages = map[string]web.Msg{
	"kind.rider":         {ZH: "骑手", EN: "Rider"},
	"kind.officer":       {ZH: "网格员", EN: "Grid officer"},
	"kind.station_admin": {ZH: "驿站管理员", EN: "Station admin"},
	"kind.admin":         {ZH: "管理员", EN: "Administrator"},

	"work.food_delivery": {ZH: "外卖骑手", EN: "Food delivery"},
	"work.courier":       {ZH: "快递员", EN: "Courier"},
	"work.ride_hailing":  {ZH: "网约车司机", EN: "Ride-hailing driver"},
	"work.other":         {ZH: "其他", EN: "Other"},

	"nav.users":  {ZH: "账户管理", EN: "Accounts"},
	"home.users": {ZH: "账户管理：创建网格员和管理员，停用或启用账户", EN: "Accounts: create officers and admins, disable or enable accounts"},

	"login.title":      {ZH: "登录", EN: "Log in"},
	"login.login":      {ZH: "手机号或用户名", EN: "Mobile number or username"},
	"login.password":   {ZH: "密码", EN: "Password"},
	"login.submit":     {ZH: "登录", EN: "Log in"},
	"login.no_account": {ZH: "还没有账户？", EN: "No account yet?"},
	"login.register":   {ZH: "骑手注册", EN: "Register as a rider"},

	"register.title":        {ZH: "骑手注册", EN: "Register as a rider"},
	"register.phone":        {ZH: "手机号", EN: "Mobile number"},
	"register.phone_hint":   {ZH: "中国大陆手机号，用于登录", EN: "Mainland China mobile number, used to log in"},
	"register.display_name": {ZH: "称呼", EN: "Name"},
	"register.name_hint":    {ZH: "网格员和驿站看到的名字", EN: "The name officers and stations see"},
	"register.password":     {ZH: "密码", EN: "Password"},
	"register.pw_hint":      {ZH: "至少 8 个字符", EN: "At least 8 characters"},
	"register.work":         {ZH: "你的工作", EN: "Your work"},
	"register.submit":       {ZH: "注册并登录", EN: "Register and log in"},
	"register.have_account": {ZH: "已有账户？", EN: "Have an account?"},
	"register.consent":      {ZH: "我已阅读并同意", EN: "I have read and agree to the"},
	"register.privacy_link": {ZH: "《隐私说明》", EN: "privacy notice"},
	"privacy.title":         {ZH: "隐私说明", EN: "Privacy notice"},
	"privacy.back":          {ZH: "返回注册", EN: "Back to registration"},

	"users.title":         {ZH: "账户管理", EN: "Accounts"},
	"users.create":        {ZH: "创建员工账户", EN: "Create a staff account"},
	"users.username":      {ZH: "用户名", EN: "Username"},
	"users.username_hint": {ZH: "小写字母开头，3–32 个字符", EN: "A lower-case letter first, 3–32 characters"},
	"users.display_name":  {ZH: "姓名", EN: "Name"},
	"users.password":      {ZH: "初始密码", EN: "Initial password"},
	"users.kind":          {ZH: "类型", EN: "Kind"},
	"users.submit":        {ZH: "创建账户", EN: "Create account"},
	"users.list":          {ZH: "全部账户（%d）", EN: "All accounts (%d)"},
	"users.col.name":      {ZH: "姓名", EN: "Name"},
	"users.col.login":     {ZH: "登录名", EN: "Login"},
	"users.col.kind":      {ZH: "类型", EN: "Kind"},
	"users.col.state":     {ZH: "状态", EN: "State"},
	"users.col.created":   {ZH: "创建时间", EN: "Created"},
	"users.col.action":    {ZH: "操作", EN: "Action"},
	"users.enabled":       {ZH: "正常", EN: "Enabled"},
	"users.disabled":      {ZH: "已停用", EN: "Disabled"},
	"users.disable":       {ZH: "停用", EN: "Disable"},
	"users.enable":        {ZH: "启用", EN: "Enable"},
	"users.you":           {ZH: "当前账户", EN: "You"},
	"users.none":          {ZH: "还没有账户。", EN: "No accounts yet."},

	"flash.logged_in":      {ZH: "已登录。", EN: "You are logged in."},
	"flash.logged_out":     {ZH: "已退出登录。", EN: "You have logged out."},
	"flash.registered":     {ZH: "注册成功，欢迎加入暖新！", EN: "You are registered. Welcome to Nuanxin!"},
	"flash.register_login": {ZH: "注册成功，请登录。", EN: "You are registered; please log in."},
	"flash.user_created":   {ZH: "已创建账户 %s（%s）。", EN: "Created the account %s (%s)."},
	"flash.user_disabled":  {ZH: "已停用 %s。", EN: "Disabled %s."},
	"flash.user_enabled":   {ZH: "已启用 %s。", EN: "Enabled %s."},

	"err.bad_credentials":   {ZH: "手机号/用户名或密码错误。", EN: "The mobile number/username or password is wrong."},
	"err.disabled":          {ZH: "该账户已被停用，请联系你的驿站或网格办。", EN: "This account has been disabled; contact your station or grid office."},
	"err.throttled":         {ZH: "该账户在你的网络地址登录失败次数过多，请 %d 分钟后再试。", EN: "Too many failed logins for this account from your network address; try again in %d minute(s)."},
	"err.throttled_account": {ZH: "该账户正被多个网络地址反复尝试登录，已暂时锁定，请 %d 分钟后再试。", EN: "Too many failed logins for this account from many network addresses, so it is locked for now; try again in %d minute(s)."},
	"err.throttled_addr":    {ZH: "你的网络地址登录失败次数过多，请 %d 分钟后再试。", EN: "Too many failed logins from your network address; try again in %d minute(s)."},
	"err.taken":             {ZH: "该手机号或用户名已被注册。", EN: "That mobile number or username is already registered."},
	"err.self":              {ZH: "不能停用自己的账户。", EN: "You cannot disable your own account."},
	"err.no_account":        {ZH: "没有这个账户。", EN: "There is no such account."},
	"err.bad_disabled":      {ZH: "停用状态只能是 true 或 false。", EN: "The disabled state must be true or false."},
}

// reasonsZH translates the reasons of this package's ValidationErrors into
// Chinese; the English text is the key.
var reasonsZH = map[string]string{
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
	"read the privacy notice and agree to it to register":                                   "请阅读并同意《隐私说明》后再注册",
}
