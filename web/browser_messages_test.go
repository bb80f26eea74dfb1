package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMessagesAndUrge (issue 10), on a phone: the officer asks the
// rider for more, the rider answers with a photo, and each side sees the
// other only by their part (网格员 / 报告人), never a name; then a report's
// acknowledgement deadline (3 s here) passes and the rider urges, once.
func TestBrowserMessagesAndUrge(t *testing.T) {
	e := newEnvWith(t, map[string]string{"NUANXIN_ACKNOWLEDGE_WITHIN": "3s"})
	c := e.city(t)
	first := e.mustReport(t, c.rider, "msg-1")
	base := e.serve(t)
	officer := tab{t: t, ctx: chrome(t), base: base}
	rider := tab{t: t, ctx: chrome(t), base: base}
	for _, b := range []tab{officer, rider} {
		b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}

	// The officer acknowledges, then asks for more.
	officer.logIn("officer.wang", officerPassword)
	officer.open("/reports/" + first.ID)
	if st := officer.load("acknowledge", chromedp.Click(chromedp.CSS("#act-acknowledge button"))); st != http.StatusOK {
		t.Fatalf("acknowledge: status %d", st)
	}
	officer.do("open more actions", chromedp.Click(chromedp.CSS("#act-more > summary")))
	officer.do("write the request", chromedp.SendKeys(chromedp.CSS("#ask-note"), "请从路口方向再拍一张"))
	if st := officer.load("ask for more", chromedp.Click(chromedp.CSS("#act-ask_more button[type=submit]"))); st != http.StatusOK {
		t.Fatalf("ask for more: status %d", st)
	}
	if got := officer.text(`#timeline [data-action="ask_more"]`); !strings.Contains(got, "请从路口方向再拍一张") {
		t.Errorf("the officer's timeline shows the request as %q", got)
	}

	// The rider reads it (named as the grid officer), and answers with a photo.
	rider.logIn("13800138000", riderPassword)
	rider.open("/inbox")
	if got := rider.text(".notes"); !strings.Contains(got, "补充材料") {
		t.Errorf("the rider's inbox says %q, want the request for more", got)
	}
	rider.open("/reports/" + first.ID)
	asked := rider.text(`#timeline [data-action="ask_more"]`)
	if !strings.Contains(asked, "网格员") || !strings.Contains(asked, "请从路口方向再拍一张") || strings.Contains(asked, "王网格") || strings.Contains(asked, "officer.wang") {
		t.Errorf("the rider sees the request as %q; want the role 网格员 and the note, no name", asked)
	}
	if got := rider.text("#thread-asked"); got == "" {
		t.Error("the answer form does not say the officer asked")
	}
	rider.screenshot("message-asked-phone.png")
	pic := filepath.Join(t.TempDir(), "more.jpg")
	if err := os.WriteFile(pic, smallPhoto(t), 0o600); err != nil {
		t.Fatal(err)
	}
	rider.do("write the answer and attach a photo",
		chromedp.SendKeys(chromedp.CSS("#message-text"), "从路口拍的，井盖完全没了"),
		chromedp.SetUploadFiles(chromedp.CSS("#message-photos"), []string{pic}))
	if st := rider.load("send the answer", chromedp.Click(chromedp.CSS("#message-send"))); st != http.StatusOK {
		t.Fatalf("send the answer: status %d", st)
	}
	if loc := rider.location(); !strings.HasSuffix(loc, "/reports/"+first.ID) {
		t.Errorf("after sending the rider is at %s, want back on the report", loc)
	}
	if got := rider.text(".flash"); !strings.Contains(got, "补充材料已发送") {
		t.Errorf("the flash says %q", got)
	}
	rider.waitFor("the answer's photo", `document.querySelector('#timeline [data-action="message"] img') && document.querySelector('#timeline [data-action="message"] img').naturalWidth > 0`)
	rider.screenshot("message-answered-phone.png")

	// The officer is told and sees "报告人", not the rider's name or phone.
	officer.open("/inbox")
	if got := officer.text(".notes"); !strings.Contains(got, "报告人补充了材料") {
		t.Errorf("the officer's inbox says %q", got)
	}
	officer.open("/reports/" + first.ID)
	answer := officer.text(`#timeline [data-action="message"]`)
	if !strings.Contains(answer, "报告人") || !strings.Contains(answer, "井盖完全没了") || strings.Contains(answer, "骑手小刘") || strings.Contains(answer, "13800138000") {
		t.Errorf("the officer sees the answer as %q; want the role 报告人 and the text, no name or phone", answer)
	}
	officer.waitFor("the answer's photo", `document.querySelector('#timeline [data-action="message"] img') && document.querySelector('#timeline [data-action="message"] img').naturalWidth > 0`)
	officer.screenshot("message-officer-phone.png")

	// Urging: not offered before the deadline, then once.
	second := e.mustReport(t, c.rider, "urge-1")
	rider.open("/reports/" + second.ID)
	if got := rider.eval(`String(document.getElementById('urge-button') !== null)`); got != "false" {
		t.Error("the urge button is shown before the deadline")
	}
	time.Sleep(time.Until(second.AckDue.Add(200 * time.Millisecond)))
	rider.open("/reports/" + second.ID)
	if got := rider.text("#report-promise"); !strings.Contains(got, "已超时") {
		t.Errorf("the promise after the deadline says %q", got)
	}
	rider.screenshot("urge-offered-phone.png")
	if st := rider.load("urge", chromedp.Click(chromedp.CSS("#urge-button"))); st != http.StatusOK {
		t.Fatalf("urge: status %d", st)
	}
	if got := rider.text(".flash"); !strings.Contains(got, "已催办") {
		t.Errorf("the flash says %q", got)
	}
	if got := rider.text(`#timeline [data-action="urge"]`); !strings.Contains(got, "催办") || !strings.Contains(got, "确认收到") {
		t.Errorf("the urge step says %q", got)
	}
	if got := rider.eval(`String(document.getElementById('urge-button') !== null)`); got != "false" {
		t.Error("the urge button is still offered after urging")
	}
	es, err := e.reports.Timeline(t.Context(), second.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	urges := 0
	for _, en := range es {
		if en.Action == "urge" {
			urges++
		}
	}
	if urges != 1 {
		t.Errorf("%d urges stored, want 1", urges)
	}
	rider.screenshot("urged-phone.png")
}

// smallPhoto is a 320×240 JPEG.
func smallPhoto(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
