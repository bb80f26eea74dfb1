package inbox

import "github.com/nuanxin/nuanxin/web"

// pageMessages are the words of the inbox page: each notification in
// words, and the page itself. It shows reports' statuses and cells in the
// words the report pages add (reports.MountPages).
var pageMessages = map[string]web.Msg{
	"nav.inbox":        {ZH: "消息", EN: "Inbox"},
	"inbox.title":      {ZH: "消息", EN: "Inbox"},
	"home.inbox":       {ZH: "未读消息（%d）", EN: "Unread messages (%d)"},
	"home.inbox_empty": {ZH: "没有未读消息。", EN: "No unread messages."},
	"home.inbox_all":   {ZH: "全部消息", EN: "All messages"},
	"home.inbox_more":  {ZH: "还有 %s 条未读，查看全部消息", EN: "%s more unread: all messages"},
	"inbox.unread":     {ZH: "%d 条未读", EN: "%d unread"},
	"inbox.mark_read":  {ZH: "标为已读", EN: "Mark read"},
	"inbox.none":       {ZH: "还没有消息。", EN: "No messages yet."},
	"live.new_note":    {ZH: "新消息", EN: "New message"},
	"err.no_note":      {ZH: "没有这条消息。", EN: "You have no such message."},

	"note.submit":               {ZH: "新上报：%s", EN: "New report: %s"},
	"note.acknowledge":          {ZH: "你上报的“%s”已被网格员确认收到", EN: "Your report \"%s\" was acknowledged"},
	"note.verify":               {ZH: "你上报的“%s”已核实", EN: "Your report \"%s\" was verified"},
	"note.reject":               {ZH: "你上报的“%s”未被采纳", EN: "Your report \"%s\" was rejected"},
	"note.handover":             {ZH: "你上报的“%s”已转交给其他网格", EN: "Your report \"%s\" was handed over to another cell"},
	"note.handover_in":          {ZH: "转交给你的上报：%s", EN: "Handed over to you: %s"},
	"note.start":                {ZH: "你上报的“%s”已开始处理", EN: "Work started on your report \"%s\""},
	"note.resolve":              {ZH: "你上报的“%s”已解决", EN: "Your report \"%s\" was resolved"},
	"note.reopen":               {ZH: "你上报的“%s”已重新打开", EN: "Your report \"%s\" was reopened"},
	"note.confirm_duplicate":    {ZH: "你上报的“%s”被确认为重复上报", EN: "Your report \"%s\" was confirmed as a duplicate"},
	"note.unlink_duplicate":     {ZH: "你上报的“%s”不再被视为重复", EN: "Your report \"%s\" is no longer a duplicate"},
	"note.escalate_ack":         {ZH: "超时未确认：%s", EN: "Not acknowledged in time: %s"},
	"note.escalate_decide":      {ZH: "超时未核实：%s", EN: "Not decided in time: %s"},
	"note.photo_unreadable":     {ZH: "你上报的“%s”有照片无法读取，网格员可能需要你重新拍摄", EN: "A photo of your report \"%s\" cannot be read; the officer may ask you to take it again"},
	"note.ask_more":             {ZH: "网格员请你补充材料：%s", EN: "The grid officer asks you for more: %s"},
	"note.message":              {ZH: "报告人补充了材料：%s", EN: "The reporter added to: %s"},
	"note.urge":                 {ZH: "报告人催办：%s", EN: "The reporter urges: %s"},
	"note.rate":                 {ZH: "报告人评价了处理结果：%s", EN: "The reporter rated the outcome: %s"},
	"note.uphold":               {ZH: "你上报的“%s”经复核维持办结", EN: "Your report \"%s\" was reviewed and stays resolved"},
	"note.council_opened":       {ZH: "议事会投票开始：%s", EN: "Voting has opened: %s"},
	"note.council_closing_soon": {ZH: "投票将在一天内截止：%s", EN: "Voting closes within a day: %s"},
	"note.council_result":       {ZH: "投票结果已公布：%s", EN: "The result is out: %s"},
	"note.outcome_decision":     {ZH: "提案已有决定：%s", EN: "A decision was recorded: %s"},
	"note.outcome_progress":     {ZH: "提案有新进展：%s", EN: "Progress on: %s"},
	"note.outcome_done":         {ZH: "提案已落实：%s", EN: "Done: %s"},
	"note.notice":               {ZH: "新通知：%s", EN: "New notice: %s"},
	"note.other":                {ZH: "上报有更新：%s", EN: "A report changed: %s"},
}
