package grid

import "github.com/nuanxin/nuanxin/web"

// pageMessages are the words of the grid map page.
var pageMessages = map[string]web.Msg{
	"nav.grid":       {ZH: "网格地图", EN: "Grid map"},
	"home.grid":      {ZH: "网格地图：导入网格、指派网格员", EN: "Grid map: import the map, assign officers"},
	"home.grid_read": {ZH: "网格地图：查看网格和负责的网格员", EN: "Grid map: see the cells and their officers"},

	"grid.title":         {ZH: "网格地图", EN: "Grid map"},
	"grid.map_label":     {ZH: "网格地图：每个格子是一个网格", EN: "The grid map: each shape is one cell"},
	"grid.empty":         {ZH: "还没有网格地图。请上传 GeoJSON 文件导入。", EN: "There is no grid map yet. Upload a GeoJSON file to import one."},
	"grid.empty_read":    {ZH: "还没有网格地图。", EN: "There is no grid map yet."},
	"grid.count":         {ZH: "共 %d 个网格，%d 个尚无主责网格员", EN: "%d cells, %d without a primary officer"},
	"grid.legend.ok":     {ZH: "已指派主责网格员", EN: "Has a primary officer"},
	"grid.legend.none":   {ZH: "尚无主责网格员", EN: "No primary officer"},
	"grid.import":        {ZH: "导入网格地图", EN: "Import the grid map"},
	"grid.import_help":   {ZH: "GeoJSON FeatureCollection，要素为 Polygon 或 MultiPolygon，属性 code、name、district，坐标为 WGS-84 [经度, 纬度]。", EN: "A GeoJSON FeatureCollection of Polygon or MultiPolygon features with properties code, name and district, in WGS-84 [longitude, latitude]."},
	"grid.file":          {ZH: "GeoJSON 文件", EN: "GeoJSON file"},
	"grid.mode":          {ZH: "导入方式", EN: "Mode"},
	"grid.mode.replace":  {ZH: "替换：文件成为整张地图", EN: "Replace: the file becomes the whole map"},
	"grid.mode.merge":    {ZH: "合并：按编码新增或替换网格", EN: "Merge: add or replace cells by code"},
	"grid.import_submit": {ZH: "上传并导入", EN: "Upload and import"},
	"grid.problems":      {ZH: "地图没有导入，请修改文件后重试（要素从 0 开始编号）：", EN: "The map was not imported; fix the file and try again (features are counted from 0):"},
	"grid.problem":       {ZH: "要素 %d：%s", EN: "feature %d: %s"},
	"grid.problem_code":  {ZH: "要素 %d（编码 %s）：%s", EN: "feature %d (code %s): %s"},
	"grid.problems_more": {ZH: "……另有 %d 个问题", EN: "… and %d more"},
	"grid.cells":         {ZH: "网格列表", EN: "Cells"},
	"grid.col.code":      {ZH: "编码", EN: "Code"},
	"grid.col.name":      {ZH: "名称", EN: "Name"},
	"grid.col.district":  {ZH: "区", EN: "District"},
	"grid.col.primary":   {ZH: "主责网格员", EN: "Primary officer"},
	"grid.col.backup":    {ZH: "备岗网格员", EN: "Backup officer"},
	"grid.col.assign":    {ZH: "指派", EN: "Assign"},
	"grid.primary":       {ZH: "主责", EN: "Primary"},
	"grid.backup":        {ZH: "备岗", EN: "Backup"},
	"grid.choose":        {ZH: "请选择", EN: "Choose"},
	"grid.no_backup":     {ZH: "（无）", EN: "(none)"},
	"grid.nobody":        {ZH: "未指派", EN: "Unassigned"},
	"grid.assign_submit": {ZH: "保存", EN: "Save"},
	"grid.no_officers":   {ZH: "还没有可指派的网格员，请先在账户管理中创建。", EN: "There are no officers to assign yet; create them under Accounts first."},

	"flash.imported": {ZH: "地图已导入：新增 %s，更新 %s，删除 %s，现共 %s 个网格。", EN: "Map imported: %s added, %s updated, %s removed; %s cells now."},
	"flash.assigned": {ZH: "已为网格 %s 指派主责网格员 %s。", EN: "%s now has %s as primary officer."},

	"err.no_cell":      {ZH: "没有编码为 %s 的网格。", EN: "There is no cell with the code %s."},
	"err.same_officer": {ZH: "主责和备岗网格员必须是不同的人。", EN: "The primary and the backup officer must be different people."},
	"err.no_file":      {ZH: "请选择要上传的 GeoJSON 文件。", EN: "Choose a GeoJSON file to upload."},
	"err.bad_mode":     {ZH: "请选择导入方式：替换或合并。", EN: "Choose how to import: replace or merge."},
}

// reasonsZH translates the reasons of this package's FieldErrors into
// Chinese; the English text is the key.
var reasonsZH = map[string]string{
	"the account is not an enabled officer": "该账户不是已启用的网格员",
	"choose the primary officer":            "请选择主责网格员",
}
