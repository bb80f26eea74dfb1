package points

import (
	"context"
	"embed"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/earn_*.html
var earnTemplates embed.FS

// earnRoutes mounts the earning rules in the JSON API (auditors only: the
// amounts are not secret, but the caps are a fraud control).
func earnRoutes(api huma.API, gate *policy.Gate, s *Service) {
	policy.Register(api, gate, PermAudit, huma.Operation{
		OperationID: "points-rules", Method: http.MethodGet, Path: "/api/v1/points/rules", Tags: []string{"points"},
		Summary:     "The earning rules in force",
		Description: "Points per category and severity (a category not listed earns the default), the corroboration award of a confirmed duplicate, the \"me too\" award of a confirmation, and the caps: how many awards a rider may earn per day and per month (China Standard Time).",
	}, func(ctx context.Context, _ *struct{}) (*earnRulesOutput, error) {
		out := &earnRulesOutput{}
		out.Body = earnRulesView(s.earningRules())
		return out, nil
	})
}

// earningRules returns the rules in force: the earner's, else the configured ones.
func (s *Service) earningRules() Rules {
	if s.Earner != nil {
		return s.Earner.Rules()
	}
	return s.Cfg.withDefaults().Rules
}

type earnRulesOutput struct {
	Body RulesView
}

// RulesView is the earning rules in the API.
type RulesView struct {
	Default       map[string]int64            `json:"default" doc:"points by severity (\"1\"..\"3\") for every category"`
	Categories    map[string]map[string]int64 `json:"categories" doc:"per category, the severities whose points differ from the default"`
	Corroboration int64                       `json:"corroboration" doc:"points for a report confirmed as a duplicate of another"`
	MeToo         int64                       `json:"me_too" doc:"points for confirming another rider's report (我也遇到), paid once it is verified"`
	DailyCap      int                         `json:"daily_cap" doc:"awards a rider may earn in a day; later ones earn nothing"`
	MonthlyCap    int                         `json:"monthly_cap" doc:"awards a rider may earn in a month"`
}

func earnRulesView(r Rules) RulesView {
	sev := func(m map[int]int64) map[string]int64 {
		out := make(map[string]int64, len(m))
		for s, p := range m {
			out[strconv.Itoa(s)] = p
		}
		return out
	}
	v := RulesView{Default: sev(r.Default), Categories: map[string]map[string]int64{},
		Corroboration: r.Corroboration, MeToo: r.MeToo, DailyCap: r.DailyCap, MonthlyCap: r.MonthlyCap}
	for c, m := range r.Categories {
		v.Categories[c] = sev(m)
	}
	return v
}

var earnMessages = map[string]web.Msg{
	"nav.points_rules":        {ZH: "积分规则", EN: "Earning rules"},
	"earnrules.title":         {ZH: "积分规则", EN: "Earning rules"},
	"earnrules.how":           {ZH: "上报经网格员核实后，按类别和严重程度获得积分；重新核实只补发或收回差额，核实后被驳回则收回全部奖励。规则在启动时从 NUANXIN_POINTS_RULES 指定的文件读取，此页只读。", EN: "A report earns points by category and severity once an officer verifies it; verifying it again pays or takes back only the difference, and a report rejected after verification gives its award back. The rules are read at start from the file named by NUANXIN_POINTS_RULES; this page is read-only."},
	"earnrules.category":      {ZH: "类别", EN: "Category"},
	"earnrules.severity":      {ZH: "严重程度 %d", EN: "Severity %d"},
	"earnrules.default":       {ZH: "其他所有类别", EN: "Every other category"},
	"earnrules.corroboration": {ZH: "重复上报经确认的佐证奖励：%d 积分", EN: "Corroboration, for a report confirmed as a duplicate: %d points"},
	"earnrules.me_too":        {ZH: "“我也遇到”确认他人上报的问题，经核实后：%d 积分", EN: "\"Me too\", confirming another rider's report, once it is verified: %d points"},
	"earnrules.caps":          {ZH: "每名骑手每天最多 %d 次奖励，每月最多 %d 次（北京时间）；超出的上报不得积分。", EN: "Each rider earns at most %d awards a day and %d a month (China Standard Time); reports beyond that earn nothing."},
}

type earnPages struct {
	k *web.Pages
	s *Service
}

// mountEarnPages adds the admin's read-only view of the earning rules.
func mountEarnPages(k *web.Pages, s *Service) error {
	if err := web.Require("points: earning pages", map[string]bool{"Pages": k == nil, "Service": s == nil}); err != nil {
		return err
	}
	p := &earnPages{k: k, s: s}
	k.AddMessages(earnMessages)
	k.AddTemplates(earnTemplates, "templates/earn_rules.html")
	// Linked from the points admin page (/admin/points/ledger).
	k.Handle(fiber.MethodGet, "/admin/points/rules", PermAudit, p.rulesPage)
	return nil
}

type earnRulesPage struct {
	Severities    []string // column headings
	Rows          []earnRulesRow
	Corroboration string
	MeToo         string
	Caps          string
}

type earnRulesRow struct {
	Category string
	Code     string
	Points   []int64 // severity 1..3
	Default  bool
}

func (p *earnPages) rulesPage(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	r := p.s.earningRules()
	v := earnRulesPage{Corroboration: l.T("earnrules.corroboration", r.Corroboration), MeToo: l.T("earnrules.me_too", r.MeToo), Caps: l.T("earnrules.caps", r.DailyCap, r.MonthlyCap)}
	for s := 1; s <= 3; s++ {
		v.Severities = append(v.Severities, l.T("earnrules.severity", s))
	}
	for _, code := range r.CategoryCodes() {
		row := earnRulesRow{Code: code, Category: reports.CategoryLabel(l, reports.DefaultCategories, code)}
		for s := 1; s <= 3; s++ {
			row.Points = append(row.Points, r.Points(code, s))
		}
		v.Rows = append(v.Rows, row)
	}
	def := earnRulesRow{Category: l.T("earnrules.default"), Default: true}
	for s := 1; s <= 3; s++ {
		def.Points = append(def.Points, r.Default[s])
	}
	v.Rows = append(v.Rows, def)
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "earn_rules", Title: "earnrules.title", Data: v})
}
