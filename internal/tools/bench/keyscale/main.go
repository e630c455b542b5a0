// Command keyscale measures how the admin's Redis sync scales with the number of keys:
// for each size it seeds a fresh SQLite store directly (one bulk insert, not the API),
// runs a full sync into an empty Redis, then two periodic repairs of the unchanged Redis
// (the first scans the store, the second finds it quiet and does not), then a repair
// after 100 revocations made through the admin (it checks their keys, not the store),
// then a repair after one record was replaced and one deleted, and writes one CSV row
// per size. It starts its own redis-server (never the one on 6379).
//
//	keyscale -sizes "10000 100000 1000000" -out docs/bench/keys.csv
//
// CPU is the process's own (getrusage: user + system, SQLite included, as it runs in
// the admin's process) around each pass; Redis' CPU is from INFO cpu. See
// BENCHMARKS.md ("Scale: keys") for what the columns mean.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // the "sqlite" driver of the direct seeding

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// cpuProfile is -cpuprofile; syncProfile, -syncprofile.
var cpuProfile, syncProfile string

// columns of the CSV, in order.
var columns = []string{
	"keys", "load_avg", "seed_seconds",
	"full_sync_seconds", "full_sync_cpu_seconds", "full_sync_redis_cpu_seconds", "full_sync_peak_heap_mb",
	"sign_us_per_record",
	"redis_used_memory_bytes", "redis_bytes_per_key",
	"scan_repair_seconds", "scan_repair_cpu_seconds", "scan_repair_redis_cpu_seconds",
	"repair_seconds", "repair_cpu_seconds", "repair_redis_cpu_seconds", "repair_checked",
	"changed_repair_cpu_seconds", "changed_repair_checked",
	"digest_heap_bytes_per_key",
	"damaged_repair_cpu_seconds", "damaged_fixed",
	"exact_repair_cpu_seconds",
}

func main() {
	sizes := flag.String("sizes", "10000 100000 1000000", "numbers of keys, one row each")
	out := flag.String("out", "docs/bench/keys.csv", "CSV to write")
	dir := flag.String("dir", "", "scratch directory for the stores and Redis (default: a new temporary one)")
	exactMax := flag.Int("exact-max", 1_000_000, "also time a repair that checks every key exactly (a fresh admin with no digests) up to this many keys")
	redisServer := flag.String("redis-server", "redis-server", "the redis-server binary")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the two repairs of an unchanged Redis here")
	flag.StringVar(&syncProfile, "syncprofile", "", "write a CPU profile of the full syncs into an empty Redis here")
	flag.Parse()
	if err := run(*sizes, *out, *dir, *redisServer, *exactMax); err != nil {
		log.Fatalf("keyscale: %v", err)
	}
}

func run(sizes, out, dir, redisServer string, exactMax int) error {
	var ns []int
	for _, f := range strings.Fields(sizes) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", f)
		}
		ns = append(ns, n)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "keyscale-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("bench"))
	rdb, stop, err := startRedis(ctx, redisServer, dir)
	if err != nil {
		return err
	}
	defer stop()
	defer rdb.Close()

	signUS, err := signCost()
	if err != nil {
		return err
	}
	fmt.Printf("KEYSCALE sign_us_per_record=%.1f (one core)\n", signUS)

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	if err := w.Write(columns); err != nil {
		return err
	}
	for _, n := range ns {
		row, err := measure(ctx, rdb, filepath.Join(dir, fmt.Sprintf("keys-%d.db", n)), n, n <= exactMax)
		if err != nil {
			return fmt.Errorf("%d keys: %w", n, err)
		}
		row["sign_us_per_record"] = fmt.Sprintf("%.1f", signUS)
		rec := make([]string, len(columns))
		var line []string
		for i, c := range columns {
			rec[i] = row[c]
			line = append(line, c+"="+row[c])
		}
		fmt.Println("KEYSCALE " + strings.Join(line, " "))
		if err := w.Write(rec); err != nil {
			return err
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		_ = os.Remove(filepath.Join(dir, fmt.Sprintf("keys-%d.db", n)))
	}
	return nil
}

// startProfile starts a CPU profile into path ("": none) and returns what stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// seedAccounts is the number of service accounts seed creates ("bot-00" …); key i
// belongs to account i mod seedAccounts.
const seedAccounts = 50

// revocations is the number of keys revoked through the admin before the pass that
// checks only the keys of changes (changed_repair_*).
const revocations = 100

// measure runs the passes for n keys and returns the row.
func measure(ctx context.Context, rdb *redis.Client, db string, n int, exact bool) (map[string]string, error) {
	row := map[string]string{"keys": strconv.Itoa(n), "load_avg": loadAvg()}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return nil, err
	}
	base, err := usedMemory(ctx, rdb)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := seed(ctx, db, n); err != nil {
		return nil, err
	}
	row["seed_seconds"] = secs(time.Since(start))
	st, err := sqlstore.OpenSQLite(ctx, db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	key, err := wire.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	s, err := redissync.New(rdb, st, redissync.Config{SigningKey: key})
	if err != nil {
		return nil, err
	}
	heap0 := heapAfterGC()

	// Full sync into the empty Redis, with the Go heap sampled.
	stopProfile, err := startProfile(syncProfile)
	if err != nil {
		return nil, err
	}
	stopSampling := sampleHeap()
	stats, cpu, rcpu, wall, err := pass(ctx, rdb, s)
	peakHeap := stopSampling()
	stopProfile()
	if err != nil {
		return nil, err
	}
	if !stats.NewEpoch || stats.Written != n {
		return nil, fmt.Errorf("full sync wrote %d records (new epoch %v), want %d", stats.Written, stats.NewEpoch, n)
	}
	row["full_sync_seconds"], row["full_sync_cpu_seconds"], row["full_sync_redis_cpu_seconds"] = secs(wall), secs(cpu), secs(rcpu)
	row["full_sync_peak_heap_mb"] = fmt.Sprintf("%.1f", float64(peakHeap)/(1<<20))
	used, err := usedMemory(ctx, rdb)
	if err != nil {
		return nil, err
	}
	row["redis_used_memory_bytes"] = strconv.FormatInt(used, 10)
	row["redis_bytes_per_key"] = fmt.Sprintf("%.0f", float64(used-base)/float64(n))

	// The periodic repair of an unchanged Redis: first a pass that scans the store
	// (the first after a full sync, as any pass after the store moved), then one of a
	// quiet store, which does not.
	if stopProfile, err = startProfile(cpuProfile); err != nil {
		return nil, err
	}
	stats, cpu, rcpu, wall, err = pass(ctx, rdb, s)
	if err != nil {
		return nil, err
	}
	if stats.NewEpoch || stats.Written+stats.Removed != 0 || stats.Unchanged != n || stats.Checked != 0 || !stats.StoreScanned {
		return nil, fmt.Errorf("repair of an unchanged Redis, scanning the store: %+v, want %d unchanged", stats, n)
	}
	row["scan_repair_seconds"], row["scan_repair_cpu_seconds"], row["scan_repair_redis_cpu_seconds"] = secs(wall), secs(cpu), secs(rcpu)
	stats, cpu, rcpu, wall, err = pass(ctx, rdb, s)
	stopProfile()
	if err != nil {
		return nil, err
	}
	if stats.NewEpoch || stats.Written+stats.Removed != 0 || stats.Unchanged != n || stats.StoreScanned {
		return nil, fmt.Errorf("repair of an unchanged Redis and a quiet store: %+v, want %d unchanged", stats, n)
	}
	row["repair_seconds"], row["repair_cpu_seconds"], row["repair_redis_cpu_seconds"] = secs(wall), secs(cpu), secs(rcpu)
	row["repair_checked"] = strconv.Itoa(stats.Checked)
	row["digest_heap_bytes_per_key"] = fmt.Sprintf("%.0f", float64(int64(heapAfterGC())-int64(heap0))/float64(n))

	// A pass after revocations made through this admin: the store moved, but only by
	// commits the admin applied, so the pass checks their keys instead of scanning.
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Syncer: s})
	if err != nil {
		return nil, err
	}
	octx := keystore.WithPrincipal(ctx, keystore.Operator("keyscale"))
	for i := 3; i < 3+revocations && i < n; i++ {
		if err := svc.RevokeKey(octx, "bench", fmt.Sprintf("bot-%02d", i%seedAccounts), fmt.Sprintf("key_%020d", i)); err != nil {
			return nil, fmt.Errorf("revoking a key: %w", err)
		}
	}
	stats, cpu, _, _, err = pass(ctx, rdb, s)
	if err != nil {
		return nil, err
	}
	if want := min(revocations, n-3); stats.StoreScanned || stats.Checked != want || stats.Written+stats.Removed != 0 {
		return nil, fmt.Errorf("repair after %d revocations: %+v, want only those checked, the store not scanned", want, stats)
	}
	row["changed_repair_cpu_seconds"], row["changed_repair_checked"] = secs(cpu), strconv.Itoa(stats.Checked)

	// One record replaced by another key's (validly sealed) value, one deleted.
	fixed, cpu, err := damaged(ctx, rdb, s, wire.NewVerifier(key.Public()))
	if err != nil {
		return nil, err
	}
	row["damaged_repair_cpu_seconds"], row["damaged_fixed"] = secs(cpu), strconv.Itoa(fixed)
	if fixed != 2 {
		return nil, fmt.Errorf("the repair after damage fixed %d records, want 2", fixed)
	}

	// What every pass cost before digests: every key checked by sealing it afresh.
	if exact {
		fresh, err := redissync.New(rdb, st, redissync.Config{SigningKey: key})
		if err != nil {
			return nil, err
		}
		stats, cpu, _, _, err = pass(ctx, rdb, fresh)
		if err != nil {
			return nil, err
		}
		if stats.Checked < n || stats.Written+stats.Removed != 0 {
			return nil, fmt.Errorf("exact repair: %+v, want %d checked and nothing written", stats, n)
		}
		row["exact_repair_cpu_seconds"] = secs(cpu)
	}
	return row, nil
}

// pass runs one Reconcile and returns its stats, the process's CPU, Redis' CPU and the
// wall time it took.
func pass(ctx context.Context, rdb *redis.Client, s *redissync.Syncer) (redissync.ReconcileStats, time.Duration, time.Duration, time.Duration, error) {
	r0, err := redisCPU(ctx, rdb)
	if err != nil {
		return redissync.ReconcileStats{}, 0, 0, 0, err
	}
	c0, t0 := processCPU(), time.Now()
	stats, err := s.Reconcile(ctx)
	wall, cpu := time.Since(t0), processCPU()-c0
	if err != nil {
		return stats, 0, 0, 0, err
	}
	r1, err := redisCPU(ctx, rdb)
	return stats, cpu, r1 - r0, wall, err
}

// damaged replaces key 0's record by key 1's value and deletes key 2's, runs one
// repair, and returns how many of the two hold a valid record of their own key after it.
func damaged(ctx context.Context, rdb *redis.Client, s *redissync.Syncer, ver *wire.Verifier) (int, time.Duration, error) {
	h0, h1, h2 := seedHash(0), seedHash(1), seedHash(2)
	v1, err := rdb.Get(ctx, wire.RedisKey(h1)).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("reading a record: %w", err)
	}
	if err := rdb.Set(ctx, wire.RedisKey(h0), v1, 0).Err(); err != nil {
		return 0, 0, err
	}
	if err := rdb.Del(ctx, wire.RedisKey(h2)).Err(); err != nil {
		return 0, 0, err
	}
	stats, cpu, _, _, err := pass(ctx, rdb, s)
	if err != nil {
		return 0, 0, err
	}
	if stats.Written != 2 {
		return 0, 0, fmt.Errorf("the repair after damage: %+v, want 2 written", stats)
	}
	fixed := 0
	for _, h := range []keystore.KeyHash{h0, h2} {
		v, err := rdb.Get(ctx, wire.RedisKey(h)).Bytes()
		if err != nil {
			continue
		}
		if r, err := wire.OpenRecord(ver, h, v); err == nil && r.State == keystore.KeyActive {
			fixed++
		}
	}
	return fixed, cpu, nil
}

// seedHash is the hash stored for seeded key i: ascending with i, so that the bulk
// insert appends to the unique index instead of writing a random page of it per row.
// Nobody sends these keys.
func seedHash(i int) keystore.KeyHash {
	var h keystore.KeyHash
	binary.BigEndian.PutUint64(h[:8], uint64(i))
	s := sha256.Sum256(h[:8])
	copy(h[8:], s[:24])
	return h
}

// seed creates a store at path with one workspace, 50 service accounts (each with a
// role on every project and on one of its own) through the Service, then n keys by
// one bulk insert in a transaction.
func seed(ctx context.Context, path string, n int) error {
	_ = os.Remove(path)
	st, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		return err
	}
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		st.Close()
		return err
	}
	const accounts = seedAccounts
	var ids []string
	if _, err := svc.CreateWorkspace(ctx, "bench", 0); err != nil {
		st.Close()
		return err
	}
	for i := range accounts {
		sa, _, err := svc.CreateServiceAccount(ctx, "bench", keystore.CreateServiceAccountInput{
			Name: fmt.Sprintf("bot-%02d", i), AllProjectsRole: keystore.RoleViewer})
		if err == nil {
			_, err = svc.SetGrant(ctx, "bench", fmt.Sprintf("project-%02d", i), sa.ID, keystore.RoleOwner)
		}
		if err != nil {
			st.Close()
			return fmt.Errorf("creating service account %d: %w", i, err)
		}
		ids = append(ids, sa.ID)
	}
	if err := st.Close(); err != nil {
		return err
	}

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	const per = 200     // rows per statement: 7 values each, under SQLite's 32766 variables
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO api_keys (id, sa_id, name, hash, last6, state, created_at) VALUES "+
		strings.TrimSuffix(strings.Repeat("(?,?,'bench',?,'000000','active',?),", per), ","))
	if err != nil {
		return fmt.Errorf("preparing the insert: %w", err)
	}
	defer stmt.Close()
	created := time.Now().UnixMicro()
	args := make([]any, 0, 4*per)
	flush := func(rows int) error {
		if rows == per {
			_, err := stmt.ExecContext(ctx, args...)
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO api_keys (id, sa_id, name, hash, last6, state, created_at) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?,?,'bench',?,'000000','active',?),", rows), ","), args...)
		return err
	}
	rows := 0
	for i := range n {
		h := seedHash(i)
		args = append(args, fmt.Sprintf("key_%020d", i), ids[i%accounts], hex.EncodeToString(h[:]), created)
		if rows++; rows == per {
			if err := flush(rows); err != nil {
				return fmt.Errorf("inserting keys: %w", err)
			}
			args, rows = args[:0], 0
		}
	}
	if rows > 0 {
		if err := flush(rows); err != nil {
			return fmt.Errorf("inserting keys: %w", err)
		}
	}
	return tx.Commit()
}

// signCost is the CPU time of sealing one record, on one core, in microseconds.
func signCost() (float64, error) {
	key, err := wire.GenerateSigningKey()
	if err != nil {
		return 0, err
	}
	r := wire.Record{KeyID: "key_00000000000000000001", SAID: "sa_0123456789", SA: "bot-01@bench", Workspace: "bench",
		State: keystore.KeyActive, Roles: map[string]wire.Role{"*": wire.RoleViewer, "project-01": wire.RoleOwner}, Rev: 51}
	const rounds = 5000
	c0 := processCPU()
	for i := range rounds {
		if _, err := wire.SealRecord(key, seedHash(i), r); err != nil {
			return 0, err
		}
	}
	return float64((processCPU() - c0).Microseconds()) / rounds, nil
}

// startRedis starts redis-server on a free port of 127.0.0.1 without persistence.
func startRedis(ctx context.Context, bin, dir string) (*redis.Client, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting redis-server: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return rdb, stop, nil
		} else if time.Now().After(deadline) {
			rdb.Close()
			stop()
			return nil, nil, fmt.Errorf("redis-server did not answer: %w", err)
		}
	}
}

// processCPU is the user and system CPU this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU Redis used so far (INFO cpu).
func redisCPU(ctx context.Context, rdb *redis.Client) (time.Duration, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("reading redis cpu: %w", err)
	}
	var total float64
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, err := infoField(info, f)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return time.Duration(total * float64(time.Second)), nil
}

// usedMemory is INFO memory's used_memory.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("reading redis memory: %w", err)
	}
	v, err := infoField(info, "used_memory")
	return int64(v), err
}

func infoField(info, name string) (float64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, errors.New("INFO has no " + name)
}

// heapAfterGC is the live Go heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// sampleHeap samples HeapInuse every 100ms until the returned function is called,
// which returns the highest sample.
func sampleHeap() func() uint64 {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapInuse)
		mu.Unlock()
	}
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b))[0]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }
