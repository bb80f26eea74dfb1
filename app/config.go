package app

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

// Config is every setting, filled from NUANXIN_* variables and then flags.
type Config struct {
	Addr           string
	Storage        storage.Config
	AdminPassword  string
	LogLevel       slog.Level
	LogFormat      string
	TrustProxy     bool
	ReloadInterval time.Duration
	ShutdownWait   time.Duration
	Demo           bool

	AcknowledgeWithin time.Duration
	DecideWithin      time.Duration
	SLAInterval       time.Duration
	LiveInterval      time.Duration
	Categories        []reports.Category // nil: the defaults
	// MapTiles is the street map of the report form's manual position;
	// the zero value draws the grid instead.
	MapTiles reports.MapTiles

	Points points.Config
}

// ParseConfig reads NUANXIN_* variables through getenv, then flags from args
// (flags win). Usage and flag errors go to stderr.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	env := func(k, def string) string {
		if v := getenv("NUANXIN_" + k); v != "" {
			return v
		}
		return def
	}
	var c Config
	fs := flag.NewFlagSet("nuanxin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", env("ADDR", ":8080"), "listen address (NUANXIN_ADDR)")
	fs.StringVar(&c.Storage.DataDir, "data-dir", env("DATA_DIR", "./data"), "directory of the embedded stores (NUANXIN_DATA_DIR)")
	fs.StringVar(&c.Storage.MongoURI, "mongo-uri", env("MONGO_URI", ""), "MongoDB URI; empty runs an embedded FerretDB (NUANXIN_MONGO_URI)")
	fs.StringVar(&c.Storage.MongoDatabase, "mongo-db", env("MONGO_DB", "nuanxin"), "database name (NUANXIN_MONGO_DB)")
	fs.StringVar(&c.Storage.S3Endpoint, "s3-endpoint", env("S3_ENDPOINT", ""), "S3/MinIO host:port; empty runs an embedded S3 server (NUANXIN_S3_ENDPOINT)")
	fs.StringVar(&c.Storage.S3AccessKey, "s3-access-key", env("S3_ACCESS_KEY", ""), "S3 access key (NUANXIN_S3_ACCESS_KEY)")
	fs.StringVar(&c.Storage.S3SecretKey, "s3-secret-key", env("S3_SECRET_KEY", ""), "S3 secret key (NUANXIN_S3_SECRET_KEY)")
	fs.StringVar(&c.Storage.S3Bucket, "s3-bucket", env("S3_BUCKET", "nuanxin"), "bucket, created if missing (NUANXIN_S3_BUCKET)")
	fs.StringVar(&c.Storage.S3Region, "s3-region", env("S3_REGION", ""), "S3 region (NUANXIN_S3_REGION)")
	tls := fs.Bool("s3-tls", env("S3_TLS", "false") == "true", "use HTTPS to the S3 server (NUANXIN_S3_TLS)")
	fs.StringVar(&c.AdminPassword, "admin-password", env("ADMIN_PASSWORD", ""), "password of the admin account created on first start; generated and logged once if empty (NUANXIN_ADMIN_PASSWORD)")
	level := fs.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (NUANXIN_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (NUANXIN_LOG_FORMAT)")
	trust := fs.Bool("trust-proxy", env("TRUST_PROXY", "false") == "true", "take the client address from X-Forwarded-For (NUANXIN_TRUST_PROXY)")
	reload := fs.String("reload-interval", env("RELOAD_INTERVAL", "1s"), "how often each instance picks up policy and map changes (NUANXIN_RELOAD_INTERVAL)")
	wait := fs.String("shutdown-timeout", env("SHUTDOWN_TIMEOUT", "20s"), "how long in-flight requests may finish on SIGTERM (NUANXIN_SHUTDOWN_TIMEOUT)")
	ack := fs.String("acknowledge-within", env("ACKNOWLEDGE_WITHIN", "10m"), "officers acknowledge a report within this (NUANXIN_ACKNOWLEDGE_WITHIN)")
	decide := fs.String("decide-within", env("DECIDE_WITHIN", "24h"), "officers verify or reject a report within this (NUANXIN_DECIDE_WITHIN)")
	sla := fs.String("sla-interval", env("SLA_INTERVAL", "15s"), "how often missed deadlines are looked for (NUANXIN_SLA_INTERVAL)")
	live := fs.String("live-interval", env("LIVE_INTERVAL", "500ms"), "how often each instance reads new report changes for live pages, and account changes for its session cache (NUANXIN_LIVE_INTERVAL)")
	categories := fs.String("categories", env("CATEGORIES_FILE", ""), "JSON file of report categories, [{\"code\", \"zh\", \"en\"}]; empty: the built-in list (NUANXIN_CATEGORIES_FILE)")
	rules := fs.String("points-rules", env("POINTS_RULES", ""), "JSON file of the points earning rules; empty: severity 1/2/3 earns 5/10/20 (NUANXIN_POINTS_RULES)")
	fs.IntVar(&c.Points.LotMonths, "points-lot-months", envInt(getenv, "POINTS_LOT_MONTHS", 12), "points expire at the end of the month this many months after they were earned (NUANXIN_POINTS_LOT_MONTHS)")
	tiles := fs.String("map-tiles", env("MAP_TILES", ""), "tile URL template of the street map for picking a report's place by hand, with {z} {x} {y} (and {s}), e.g. https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY; empty: the grid drawing (NUANXIN_MAP_TILES)")
	tilesDatum := fs.String("map-tiles-datum", env("MAP_TILES_DATUM", ""), "coordinate system of the tiles: wgs84 (天地图, OpenStreetMap) or gcj02 (Amap, Tencent) (NUANXIN_MAP_TILES_DATUM)")
	tilesCredit := fs.String("map-tiles-attribution", env("MAP_TILES_ATTRIBUTION", ""), "credit shown on the street map, as the tile source asks (NUANXIN_MAP_TILES_ATTRIBUTION)")
	demo := fs.Bool("demo", env("DEMO", "false") == "true", "seed a small demo city (Changsha) and print its logins (NUANXIN_DEMO)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Storage.S3UseTLS, c.TrustProxy, c.Demo = *tls, *trust, *demo
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, fmt.Errorf("log level %q: use debug, info, warn or error", *level)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("log format %q: use text or json", c.LogFormat)
	}
	var err error
	if c.ReloadInterval, err = positiveDuration("reload-interval", *reload); err != nil {
		return c, err
	}
	if c.ReloadInterval > 5*time.Second {
		return c, fmt.Errorf("reload-interval %s: at most 5s, so changes reach every instance within 5 seconds", *reload)
	}
	if c.ShutdownWait, err = positiveDuration("shutdown-timeout", *wait); err != nil {
		return c, err
	}
	if c.AcknowledgeWithin, err = positiveDuration("acknowledge-within", *ack); err != nil {
		return c, err
	}
	if c.DecideWithin, err = positiveDuration("decide-within", *decide); err != nil {
		return c, err
	}
	if c.SLAInterval, err = positiveDuration("sla-interval", *sla); err != nil {
		return c, err
	}
	if c.LiveInterval, err = positiveDuration("live-interval", *live); err != nil {
		return c, err
	}
	if *categories != "" {
		if c.Categories, err = loadCategories(*categories); err != nil {
			return c, err
		}
	}
	if *rules != "" {
		if c.Points.Rules, err = points.LoadRules(*rules); err != nil {
			return c, err
		}
	}
	if c.MapTiles, err = reports.ParseMapTiles(*tiles, *tilesDatum, *tilesCredit); err != nil {
		return c, fmt.Errorf("NUANXIN_MAP_TILES: %w", err)
	}
	if c.Points.LotMonths < 1 || c.Points.LotMonths > 120 {
		return c, fmt.Errorf("points-lot-months %d: use 1 to 120 months", c.Points.LotMonths)
	}
	if c.Storage.S3Endpoint != "" && (c.Storage.S3AccessKey == "" || c.Storage.S3SecretKey == "") {
		return c, fmt.Errorf("NUANXIN_S3_ENDPOINT is set: set NUANXIN_S3_ACCESS_KEY and NUANXIN_S3_SECRET_KEY too")
	}
	if len(c.Storage.S3Bucket) < 3 {
		return c, fmt.Errorf("bucket %q: names need at least 3 characters", c.Storage.S3Bucket)
	}
	return c, nil
}

// envInt reads an integer variable; a value that is not an integer is
// passed on as -1, which the range check after parsing refuses by name.
func envInt(getenv func(string) string, k string, def int) int {
	v := getenv("NUANXIN_" + k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// loadCategories reads and checks a categories file.
func loadCategories(path string) ([]reports.Category, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("categories file: %w", err)
	}
	var cs []reports.Category
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("categories file %s: not a JSON list of {\"code\", \"zh\", \"en\"}: %w", path, err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("categories file %s: the list is empty", path)
	}
	seen := map[string]bool{}
	for i, c := range cs {
		if c.Code == "" || len(c.Code) > 40 || strings.ContainsAny(c.Code, " /?#&") || c.ZH == "" || c.EN == "" {
			return nil, fmt.Errorf("categories file %s: entry %d needs a code (up to 40 characters, no spaces or /?#&), a zh and an en name", path, i)
		}
		if seen[c.Code] {
			return nil, fmt.Errorf("categories file %s: code %q appears twice", path, c.Code)
		}
		seen[c.Code] = true
	}
	return cs, nil
}

func positiveDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: give a positive duration such as 2s", name, s)
	}
	return d, nil
}

// LogValue masks secrets when the configuration is logged.
func (c Config) LogValue() slog.Value {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	uri := c.Storage.MongoURI
	if i := strings.Index(uri, "@"); i > 0 {
		if j := strings.Index(uri, "://"); j > 0 && j < i {
			uri = uri[:j+3] + "****" + uri[i:]
		}
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.Storage.DataDir),
		slog.String("mongo_uri", uri),
		slog.String("mongo_db", c.Storage.MongoDatabase),
		slog.String("s3_endpoint", c.Storage.S3Endpoint),
		slog.String("s3_access_key", mask(c.Storage.S3AccessKey)),
		slog.String("s3_secret_key", mask(c.Storage.S3SecretKey)),
		slog.String("s3_bucket", c.Storage.S3Bucket),
		slog.Bool("s3_tls", c.Storage.S3UseTLS),
		slog.String("admin_password", mask(c.AdminPassword)),
		slog.Bool("trust_proxy", c.TrustProxy),
		slog.String("reload_interval", c.ReloadInterval.String()),
		slog.Bool("demo", c.Demo),
		slog.String("acknowledge_within", c.AcknowledgeWithin.String()),
		slog.String("decide_within", c.DecideWithin.String()),
		slog.String("map_tiles", c.MapTiles.Origin()), // the host only: a template may carry a key (天地图's tk)
		slog.String("level", c.LogLevel.String()),
	)
}

// withDefaults fills the settings a Config literal left at zero with the
// defaults ParseConfig gives, so a test that sets only what it cares about
// gets a working application, not a ticker panicking on a zero interval.
func (c Config) withDefaults() Config {
	d, err := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		panic("default configuration: " + err.Error()) // a programming error
	}
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Storage.DataDir == "" {
		c.Storage.DataDir = d.Storage.DataDir
	}
	if c.LogFormat == "" {
		c.LogFormat = d.LogFormat
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.ReloadInterval, &d.ReloadInterval}, {&c.ShutdownWait, &d.ShutdownWait},
		{&c.AcknowledgeWithin, &d.AcknowledgeWithin}, {&c.DecideWithin, &d.DecideWithin},
		{&c.SLAInterval, &d.SLAInterval}, {&c.LiveInterval, &d.LiveInterval},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return c
}
