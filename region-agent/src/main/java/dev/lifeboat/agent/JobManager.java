package dev.lifeboat.agent;

import com.google.protobuf.Timestamp;
import dev.lifeboat.engine.postgres.PgException;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.OperationCancelledException;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.proto.v1.JobAccepted;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.repository.RepositoryException;
import dev.lifeboat.util.Json;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an agent's jobs: accepts them (idempotently, per job id), queues them behind a concurrency limit
 * ({@code max-concurrent-jobs}; WAL_STREAM jobs do not count against it), runs each on a thread of its own through
 * the engine, and publishes numbered events (STARTED, throttled PROGRESS, then exactly one of COMPLETED, FAILED or
 * CANCELLED) to watchers of that job and to subscribers of all jobs.
 *
 * <p>Every job's request and events are journaled under {@code state-dir/jobs/}. When the agent starts it reads them
 * back: a job that had not ended (the agent was killed, or the host went down) gets a durable FAILED event
 * {@value #INTERRUPTED}, reported by {@link #interruptedAtStartup()}; ended jobs stay listable (the newest
 * {@value #KEEP_ENDED}).
 *
 * <p>Listeners are called in event order, one event at a time per listener, on the thread that produced the event:
 * they must not block.
 */
public final class JobManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobManager.class);

    public static final int KEEP_ENDED = 500;
    public static final String INTERRUPTED = "interrupted: the agent stopped while the job ran";
    private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    /** A long-running job (a WAL stream) keeps its lifecycle events and only its newest progress reports. */
    private static final int COMPACT_ABOVE = 2000;

    private static final int COMPACT_TO = 1000;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(20);

    private final AgentConfig config;
    private final MeterRegistry registry;
    private final JobJournal journal;
    private final Map<JobType, JobExecutor> executors = new EnumMap<>(JobType.class);
    /** Every job this agent knows, oldest submit first. Guarded by this. */
    private final LinkedHashMap<String, Job> jobs = new LinkedHashMap<>();

    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private final Set<Subscriber> everyJob = new CopyOnWriteArraySet<>();
    private final List<JobEvent> interrupted = new ArrayList<>();
    private volatile int running;
    private volatile int queued;
    private boolean closed;

    /** One job's state. Fields below {@code events} are guarded by the Job itself. */
    private static final class Job {
        final JobRequest request;
        final Instant submittedAt;
        final AgentConfig.Database database;
        final JobExecutor.Prepared work;
        final boolean counted;
        final Cancellation cancel = new Cancellation();
        final List<JobEvent> events = new ArrayList<>();
        final List<Subscriber> watchers = new ArrayList<>();
        long lastSequence;
        JobEvent lastEvent;
        boolean started;
        boolean ended;
        /** Taken out of the queue by a cancel (guarded by the manager). */
        boolean dequeued;

        volatile String cancelReason;
        Thread thread;
        long startNanos;

        Job(JobRequest request, Instant submittedAt, AgentConfig.Database database, JobExecutor.Prepared work) {
            this.request = request;
            this.submittedAt = submittedAt;
            this.database = database;
            this.work = work;
            this.counted = request.getType() != JobType.WAL_STREAM;
        }

        String id() {
            return request.getJobId();
        }
    }

    /** Delivers events to one listener in order, never two at once, without holding any lock of the manager. */
    private static final class Subscriber implements AutoCloseable {
        private final Consumer<JobEvent> listener;
        private final ConcurrentLinkedQueue<JobEvent> pending = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean draining = new AtomicBoolean();
        private volatile boolean closed;

        Subscriber(Consumer<JobEvent> listener) {
            this.listener = listener;
        }

        void offer(JobEvent e) {
            if (!closed) {
                pending.add(e);
            }
        }

        void drain() {
            while (!pending.isEmpty() && draining.compareAndSet(false, true)) {
                try {
                    JobEvent e;
                    while ((e = pending.poll()) != null) {
                        if (closed) {
                            pending.clear();
                            break;
                        }
                        try {
                            listener.accept(e);
                        } catch (RuntimeException ex) {
                            log.warn(
                                    "a job event listener failed on {} #{}: {}",
                                    e.getJobId(),
                                    e.getSequence(),
                                    ex.toString());
                        }
                    }
                } finally {
                    draining.set(false);
                }
            }
        }

        @Override
        public void close() {
            closed = true;
            pending.clear();
        }
    }

    public JobManager(AgentConfig config, MeterRegistry registry) throws IOException {
        this.config = config;
        this.registry = registry;
        this.journal = new JobJournal(config.jobsDir());
        BackupJob.register(executors);
        executors.put(JobType.WAL_STREAM, new WalStreamJob());
        executors.put(JobType.RESTORE, new RestoreJob(false));
        executors.put(JobType.RESTORE_PITR, new RestoreJob(true));
        executors.put(JobType.VERIFY, new VerifyJob());
        executors.put(JobType.EXPIRE, new ExpireJob());
        executors.put(JobType.REPLICATE, new ReplicateJob());
        executors.put(JobType.DR_DRILL, new DrDrillJob());
        executors.put(JobType.CATALOG, new CatalogJob());
        Gauge.builder("lifeboat.jobs.running", this, m -> m.running)
                .description("Jobs running now on this agent (WAL streams included)")
                .register(registry);
        Gauge.builder("lifeboat.jobs.queued", this, m -> m.queued)
                .description("Jobs waiting for a free slot (max-concurrent-jobs)")
                .register(registry);
        recover();
    }

    /** Reads the journal back; a job that never ended gets its durable FAILED "interrupted" event now. */
    private void recover() throws IOException {
        for (JobJournal.Stored s : journal.loadAll()) {
            String id = s.request().getJobId();
            AgentConfig.Database db = config.databases().stream()
                    .filter(d -> d.name().equals(s.request().getDatabase()))
                    .findFirst()
                    .orElse(null);
            Job job = new Job(s.request(), s.submittedAt(), db, null);
            job.events.addAll(s.events());
            for (JobEvent e : s.events()) {
                job.lastSequence = Math.max(job.lastSequence, e.getSequence());
                job.lastEvent = e;
                job.started |= e.getKind() == JobEvent.Kind.STARTED;
                job.ended |= isTerminal(e.getKind());
            }
            if (!job.ended) {
                JobEvent e = describing(JobEvent.newBuilder(), s.request())
                        .setJobId(id)
                        .setSequence(job.lastSequence + 1)
                        .setKind(JobEvent.Kind.FAILED)
                        .setAt(now())
                        .setMessage(INTERRUPTED)
                        .setPhase(job.lastEvent == null ? "" : job.lastEvent.getPhase())
                        .build();
                journal.append(id, e, true);
                job.events.add(e);
                job.lastSequence = e.getSequence();
                job.lastEvent = e;
                job.ended = true;
                interrupted.add(e);
                jobsCounter(s.request().getType(), "failed").increment();
                log.warn(
                        "job {} ({} on {}) was running when the agent stopped: marked failed",
                        id,
                        s.request().getType(),
                        s.request().getDatabase());
            }
            jobs.put(id, job);
        }
        prune();
        DrDrillJob.removeLeftovers(config.stateDir());
    }

    // ---- the API --------------------------------------------------------------------------------------------------

    /**
     * Accepts a job, or returns the existing one with the same id ({@code created = false}). An empty job id gets a
     * fresh UUID. A bad request (unknown type or database, bad parameters, a restore target that is not empty) fails
     * here with an {@link IllegalArgumentException}; the same id with a different request with a
     * {@link JobConflictException}.
     */
    public JobAccepted submit(JobRequest request) throws IOException {
        String id = request.getJobId().strip();
        if (id.isEmpty()) {
            id = UUID.randomUUID().toString();
        } else if (!JOB_ID.matcher(id).matches()) {
            throw new IllegalArgumentException(
                    "job id '" + request.getJobId() + "' may only hold letters, digits, '.', '_' "
                            + "and '-' (at most 128, starting with a letter or digit); a UUID is best");
        }
        request = request.toBuilder().setJobId(id).build();
        synchronized (this) {
            Job existing = jobs.get(id);
            if (existing != null) {
                return existing(existing, request);
            }
            requireOpen();
        }
        JobType type = request.getType();
        JobExecutor executor = executors.get(type);
        if (executor == null) {
            throw new IllegalArgumentException("job type " + type + " is not one an agent runs; use one of "
                    + String.join(
                            ", ", executors.keySet().stream().map(Enum::name).toList()));
        }
        if (request.getDatabase().isBlank()) {
            throw new IllegalArgumentException("say which database the job acts on; this agent knows "
                    + String.join(", ", config.databaseNames()));
        }
        AgentConfig.Database db = config.database(request.getDatabase());
        JobExecutor.Prepared work = executor.prepare(request, db, config);
        synchronized (this) {
            Job existing = jobs.get(id);
            if (existing != null) {
                return existing(existing, request);
            }
            requireOpen();
            if (type == JobType.WAL_STREAM) {
                for (Job j : jobs.values()) {
                    if (j.request.getType() == JobType.WAL_STREAM
                            && j.request.getDatabase().equals(db.name())
                            && !isEnded(j)) {
                        throw new IllegalArgumentException("database " + db.name() + " already has WAL_STREAM job "
                                + j.id() + " running; cancel it first");
                    }
                }
            }
            journal.create(request);
            Job job = new Job(request, Instant.now(), db, work);
            jobs.put(id, job);
            queue.add(job);
            schedule();
            prune();
        }
        log.info("accepted job {}: {} on {} requested by {}", id, type, db.name(), request.getRequestedBy());
        return JobAccepted.newBuilder().setJobId(id).setCreated(true).build();
    }

    private static JobAccepted existing(Job job, JobRequest request) {
        JobRequest a = job.request;
        if (a.getType() != request.getType()
                || !a.getDatabase().equals(request.getDatabase())
                || !a.getParamsMap().equals(request.getParamsMap())) {
            throw new JobConflictException("job id " + job.id() + " is already used by a different job (" + a.getType()
                    + " on "
                    + a.getDatabase() + " with " + a.getParamsMap() + "); a retried submit must send the same request, "
                    + "a new job needs a new id");
        }
        return JobAccepted.newBuilder().setJobId(job.id()).setCreated(false).build();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the agent is stopping and accepts no more jobs");
        }
    }

    /**
     * Asks a job to stop (engine work stops at its next check and the job ends CANCELLED; a queued job is cancelled
     * at once). False when the job had already ended.
     */
    public boolean cancel(String jobId, String reason) {
        String why = reason == null || reason.isBlank() ? "cancelled" : reason.strip();
        Job job;
        boolean inQueue;
        synchronized (this) {
            job = jobs.get(jobId);
            if (job == null) {
                throw new UnknownJobException(jobId);
            }
            if (isEnded(job)) {
                return false;
            }
            job.cancelReason = why;
            synchronized (job) {
                inQueue = !job.started;
            }
            if (inQueue) {
                if (job.dequeued) {
                    return true; // a cancel of it is being reported right now
                }
                queue.remove(job);
                job.dequeued = true;
                queued = queue.size();
            }
        }
        if (inQueue) {
            // outside the manager's lock: listeners run on this thread
            endUnstarted(job, "cancelled before it started: " + why);
            return true;
        }
        log.info("cancelling job {}: {}", jobId, why);
        job.cancel.cancel(why);
        return true;
    }

    /** Every job (oldest submit first) with its request and last event; only those not ended with {@code runningOnly}.
     * */
    public List<JobStatus> list(boolean runningOnly) {
        List<Job> all;
        synchronized (this) {
            all = new ArrayList<>(jobs.values());
        }
        List<JobStatus> out = new ArrayList<>();
        for (Job j : all) {
            synchronized (j) {
                if (runningOnly && j.ended) {
                    continue;
                }
                JobStatus.Builder b = JobStatus.newBuilder().setRequest(j.request);
                if (j.lastEvent != null) {
                    b.setLastEvent(j.lastEvent);
                }
                out.add(b.build());
            }
        }
        return out;
    }

    /** One job's request and last event. */
    public JobStatus status(String jobId) {
        Job j;
        synchronized (this) {
            j = jobs.get(jobId);
        }
        if (j == null) {
            throw new UnknownJobException(jobId);
        }
        synchronized (j) {
            JobStatus.Builder b = JobStatus.newBuilder().setRequest(j.request);
            if (j.lastEvent != null) {
                b.setLastEvent(j.lastEvent);
            }
            return b.build();
        }
    }

    /**
     * Calls {@code listener} with the job's stored events after {@code afterSequence}, then its live ones, in order and
     * without gaps (a long-running job keeps only its newest progress reports), up to and including its end event.
     * Closing the handle stops delivery.
     */
    public AutoCloseable watch(String jobId, long afterSequence, Consumer<JobEvent> listener) {
        Job job;
        synchronized (this) {
            job = jobs.get(jobId);
        }
        if (job == null) {
            throw new UnknownJobException(jobId);
        }
        Subscriber s = new Subscriber(listener);
        synchronized (job) {
            for (JobEvent e : job.events) {
                if (e.getSequence() > afterSequence) {
                    s.offer(e);
                }
            }
            if (!job.ended) {
                job.watchers.add(s);
            }
        }
        s.drain();
        return () -> {
            synchronized (job) {
                job.watchers.remove(s);
            }
            s.close();
        };
    }

    /** Every event of every job from now on (for the controller link). */
    public AutoCloseable subscribeAll(Consumer<JobEvent> listener) {
        Subscriber s = new Subscriber(listener);
        everyJob.add(s);
        return () -> {
            everyJob.remove(s);
            s.close();
        };
    }

    /** The FAILED "interrupted" events written at startup for jobs that were running when the agent last stopped. */
    public synchronized List<JobEvent> interruptedAtStartup() {
        return List.copyOf(interrupted);
    }

    /** Ids of the jobs that have not ended (running or queued). */
    public List<String> runningJobIds() {
        List<String> out = new ArrayList<>();
        for (JobStatus s : list(true)) {
            out.add(s.getRequest().getJobId());
        }
        return out;
    }

    /**
     * Starts a WAL_STREAM job for every database with {@code wal-stream: true} that has none running; returns the
     * new jobs' ids.
     */
    public List<String> ensureWalStreams() throws IOException {
        List<String> started = new ArrayList<>();
        for (AgentConfig.Database db : config.databases()) {
            if (!db.walStream()) {
                continue;
            }
            boolean has;
            synchronized (this) {
                has = jobs.values().stream()
                        .anyMatch(j -> j.request.getType() == JobType.WAL_STREAM
                                && j.request.getDatabase().equals(db.name())
                                && !isEnded(j));
            }
            if (!has) {
                String id = "wal-stream-" + db.name() + "-" + System.currentTimeMillis();
                submit(JobRequest.newBuilder()
                        .setJobId(id)
                        .setType(JobType.WAL_STREAM)
                        .setDatabase(db.name())
                        .setRequestedBy("agent " + config.id() + " (wal-stream: true)")
                        .build());
                started.add(id);
            }
        }
        return started;
    }

    public AgentConfig config() {
        return config;
    }

    /** Cancels queued and running jobs and waits briefly for them to end; accepts nothing afterwards. */
    @Override
    public void close() {
        List<Job> active = new ArrayList<>();
        List<Job> waiting;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            waiting = new ArrayList<>(queue);
            for (Job j : waiting) {
                j.cancelReason = "the agent is stopping";
                j.dequeued = true;
            }
            queue.clear();
            queued = 0;
            for (Job j : jobs.values()) {
                if (j.started && !isEnded(j)) {
                    active.add(j);
                }
            }
        }
        for (Job j : waiting) {
            endUnstarted(j, "cancelled before it started: the agent is stopping");
        }
        for (Job j : active) {
            j.cancelReason = "the agent is stopping";
            j.cancel.cancel("the agent is stopping");
        }
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        for (Job j : active) {
            Thread t = j.thread;
            long left = deadline - System.nanoTime();
            if (t != null && left > 0) {
                try {
                    t.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (!isEnded(j)) {
                log.warn(
                        "job {} did not stop within {} s; it will be reported as interrupted at the next start",
                        j.id(),
                        CLOSE_WAIT.toSeconds());
            }
        }
    }

    // ---- running ---------------------------------------------------------------------------------------------------

    /** Starts queued jobs while slots are free; WAL streams start at once. Caller holds this. */
    private void schedule() {
        for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
            Job j = it.next();
            if ((!j.counted || countedRunning() < config.maxConcurrentJobs()) && !writerBusy(j)) {
                it.remove();
                start(j);
            }
        }
        queued = queue.size();
    }

    /** Backups and expiry of one database's repository take its lock: a second one waits its turn instead of failing on
     * it. */
    private static boolean writesRepository(Job j) {
        return switch (j.request.getType()) {
            case BACKUP_FULL, BACKUP_INCREMENTAL, BACKUP_DIFFERENTIAL, EXPIRE -> true;
            default -> false;
        };
    }

    private boolean writerBusy(Job j) {
        if (!writesRepository(j)) {
            return false;
        }
        for (Job other : jobs.values()) {
            if (other != j
                    && other.started
                    && !isEnded(other)
                    && writesRepository(other)
                    && other.request.getDatabase().equals(j.request.getDatabase())) {
                return true;
            }
        }
        return false;
    }

    private int countedRunning() {
        int n = 0;
        for (Job j : jobs.values()) {
            if (j.counted && j.started && !isEnded(j)) {
                n++;
            }
        }
        return n;
    }

    private void start(Job job) {
        synchronized (job) {
            job.started = true;
            job.startNanos = System.nanoTime();
        }
        running++;
        job.thread = Thread.ofPlatform().name("job-" + job.id()).daemon(true).start(() -> runJob(job));
    }

    private void runJob(Job job) {
        JobRequest req = job.request;
        emit(
                job,
                JobEvent.newBuilder()
                        .setKind(JobEvent.Kind.STARTED)
                        .setMessage(req.getType() + " of " + req.getDatabase()
                                + (req.getRequestedBy().isBlank() ? "" : ", requested by " + req.getRequestedBy())));
        Counter bytes = Counter.builder("lifeboat.job.bytes")
                .baseUnit("bytes")
                .tag("type", typeTag(req.getType()))
                .description("Bytes processed by jobs (read, restored, verified, copied)")
                .register(registry);
        JobContext ctx = new JobContext(
                req, job.database, config, job.cancel, (phase, e) -> emit(job, progress(phase, e)), bytes::increment);
        JobEvent.Builder end;
        try {
            Object result = job.work.run(ctx);
            end = JobEvent.newBuilder()
                    .setKind(JobEvent.Kind.COMPLETED)
                    .setMessage("completed")
                    .setResultJson(json(result));
        } catch (JobOutcomeException o) {
            end = o.kind == JobEvent.Kind.CANCELLED
                    ? cancelled(job)
                            .setMessage(
                                    cancelled(job).getMessage() + (o.getMessage() == null ? "" : "; " + o.getMessage()))
                    : JobEvent.newBuilder().setKind(o.kind).setMessage(o.getMessage());
            if (o.result != null) {
                end.setResultJson(json(o.result));
            }
        } catch (OperationCancelledException c) {
            end = cancelled(job);
        } catch (Throwable t) {
            if (job.cancel.isCancelled()) {
                log.info("job {} ended after it was cancelled: {}", job.id(), t.toString());
                end = cancelled(job);
            } else {
                // the reason goes into the job's FAILED event; the stack trace only helps for errors nobody anticipated
                if (t instanceof RuntimeException
                        && !(t instanceof IllegalArgumentException
                                || t instanceof IllegalStateException
                                || t instanceof PgException
                                || t instanceof RepositoryException)) {
                    log.warn("job {} ({} on {}) failed", job.id(), req.getType(), req.getDatabase(), t);
                } else {
                    log.warn("job {} ({} on {}) failed: {}", job.id(), req.getType(), req.getDatabase(), describe(t));
                    log.debug("job {} failure", job.id(), t);
                }
                end = JobEvent.newBuilder().setKind(JobEvent.Kind.FAILED).setMessage(describe(t));
            }
        }
        JobEvent last = emit(job, end);
        String outcome = last == null ? "failed" : last.getKind().name().toLowerCase(Locale.ROOT);
        jobsCounter(req.getType(), outcome).increment();
        Timer.builder("lifeboat.job.duration")
                .tag("type", typeTag(req.getType()))
                .tag("outcome", outcome)
                .description("How long jobs ran, from start to end")
                .register(registry)
                .record(Duration.ofNanos(System.nanoTime() - job.startNanos));
        synchronized (this) {
            running--;
            schedule();
            prune();
        }
    }

    private static JobEvent.Builder cancelled(Job job) {
        return JobEvent.newBuilder()
                .setKind(JobEvent.Kind.CANCELLED)
                .setMessage("cancelled: " + (job.cancelReason == null ? "cancelled" : job.cancelReason));
    }

    /** Ends a job that never started (taken out of the queue by the caller). */
    private void endUnstarted(Job job, String message) {
        emit(job, JobEvent.newBuilder().setKind(JobEvent.Kind.CANCELLED).setMessage(message));
        jobsCounter(job.request.getType(), "cancelled").increment();
    }

    private static JobEvent.Builder progress(String phase, ProgressEvent e) {
        return JobEvent.newBuilder()
                .setKind(JobEvent.Kind.PROGRESS)
                .setPhase(phase)
                .setBytesDone(e.bytesDone())
                .setBytesTotal(e.bytesTotal())
                .setFilesDone(e.filesDone())
                .setFilesTotal(e.filesTotal())
                .setBytesPerSecond(e.bytesPerSecond())
                .setEtaSeconds(e.eta() == null ? -1 : e.eta().toMillis() / 1000.0)
                .setMessage(e.message() == null ? "" : e.message());
    }

    /**
     * Numbers, journals and publishes one event; nothing follows an end event. Returns the event, or null when the
     * job had already ended.
     */
    /** Every event names its job's type, database and requester, so a controller can record jobs it did not start. */
    private static JobEvent.Builder describing(JobEvent.Builder b, JobRequest r) {
        return b.setType(r.getType()).setDatabase(r.getDatabase()).setRequestedBy(r.getRequestedBy());
    }

    private JobEvent emit(Job job, JobEvent.Builder b) {
        List<Subscriber> targets = new ArrayList<>();
        JobEvent e;
        synchronized (job) {
            if (job.ended) {
                return null;
            }
            e = describing(b, job.request)
                    .setJobId(job.id())
                    .setSequence(job.lastSequence + 1)
                    .setAt(now())
                    .build();
            job.lastSequence = e.getSequence();
            job.lastEvent = e;
            job.events.add(e);
            boolean terminal = isTerminal(e.getKind());
            try {
                journal.append(job.id(), e, e.getKind() != JobEvent.Kind.PROGRESS);
            } catch (IOException ex) {
                log.error(
                        "cannot journal event {} of job {} under {}: {}",
                        e.getSequence(),
                        job.id(),
                        journal.dir(),
                        ex.toString());
            }
            if (job.events.size() > COMPACT_ABOVE) {
                compact(job);
            }
            targets.addAll(job.watchers);
            targets.addAll(everyJob);
            for (Subscriber s : targets) {
                s.offer(e);
            }
            if (terminal) {
                job.ended = true;
                job.watchers.clear();
            }
        }
        for (Subscriber s : targets) {
            s.drain();
        }
        return e;
    }

    /** Keeps the lifecycle events and the newest progress reports of a long-running job. Caller holds the job. */
    private void compact(Job job) {
        int drop = job.events.size() - COMPACT_TO;
        List<JobEvent> kept = new ArrayList<>(COMPACT_TO);
        for (JobEvent e : job.events) {
            if (drop > 0 && e.getKind() == JobEvent.Kind.PROGRESS && e != job.lastEvent) {
                drop--;
                continue;
            }
            kept.add(e);
        }
        job.events.clear();
        job.events.addAll(kept);
        try {
            journal.rewrite(job.id(), kept);
        } catch (IOException ex) {
            log.error("cannot compact the journal of job {}: {}", job.id(), ex.toString());
        }
    }

    /** Forgets the oldest ended jobs beyond {@link #KEEP_ENDED}. Caller holds this. */
    private void prune() {
        int ended = 0;
        for (Job j : jobs.values()) {
            if (isEnded(j)) {
                ended++;
            }
        }
        for (Iterator<Job> it = jobs.values().iterator(); it.hasNext() && ended > KEEP_ENDED; ) {
            Job j = it.next();
            if (isEnded(j)) {
                it.remove();
                ended--;
                try {
                    journal.delete(j.id());
                } catch (IOException ex) {
                    log.warn("cannot delete the journal of old job {}: {}", j.id(), ex.toString());
                }
            }
        }
    }

    private static boolean isEnded(Job j) {
        synchronized (j) {
            return j.ended;
        }
    }

    public static boolean isTerminal(JobEvent.Kind k) {
        return k == JobEvent.Kind.COMPLETED || k == JobEvent.Kind.FAILED || k == JobEvent.Kind.CANCELLED;
    }

    private Counter jobsCounter(JobType type, String outcome) {
        return Counter.builder("lifeboat.jobs")
                .tag("type", typeTag(type))
                .tag("outcome", outcome)
                .description("Jobs that ended, by type and outcome")
                .register(registry);
    }

    static String typeTag(JobType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }

    private static Timestamp now() {
        Instant i = Instant.now();
        return Timestamp.newBuilder()
                .setSeconds(i.getEpochSecond())
                .setNanos(i.getNano())
                .build();
    }

    private static String json(Object result) {
        if (result == null) {
            return "";
        }
        return result instanceof String s ? s : Json.pretty(result);
    }

    /** One line that says what went wrong (file-system exceptions carry only a path as their message). */
    static String describe(Throwable t) {
        while ((t instanceof ExecutionException
                        || t instanceof UncheckedIOException
                        || t instanceof CompletionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile() + " (agent runs as " + System.getProperty("user.name") + ")";
        }
        if (t instanceof NoSuchFileException n) {
            return "no such file or directory: " + n.getFile();
        }
        if (t instanceof FileAlreadyExistsException f) {
            return "already exists: " + f.getFile();
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
