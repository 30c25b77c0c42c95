package dev.lifeboat.controller.policy;

import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.jobs.JobDispatcher;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.policy.Inventory.ManagedDatabase;
import dev.lifeboat.proto.v1.JobType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.quartz.CronScheduleBuilder;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDataMap;
import org.quartz.JobDetail;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.TriggerKey;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fires each database's policy schedules (full, incremental, drill) as jobs on its agent, using Quartz cron triggers.
 * A run is skipped, and the skip audited, while the previous job of the same kind for that database has not ended, so a
 * slow backup never piles up behind itself. Schedules are rebuilt from the config at start; a run missed while the
 * controller was down is not caught up (the next one is).
 */
public final class PolicyScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PolicyScheduler.class);

    public record ScheduledRun(String database, String policy, String kind, String cron, Instant next) {}

    private final Scheduler quartz;
    private final Inventory inventory;
    private final JobDispatcher dispatcher;
    private final JobStore jobs;
    private final Auditor audit;

    public PolicyScheduler(Inventory inventory, JobDispatcher dispatcher, JobStore jobs, Auditor audit)
            throws SchedulerException {
        this.inventory = inventory;
        this.dispatcher = dispatcher;
        this.jobs = jobs;
        this.audit = audit;
        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", "lifeboat-policies");
        p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        // room for runs waiting out AGENT_GRACE at start-up without holding up other databases' schedules
        p.setProperty("org.quartz.threadPool.threadCount", "8");
        p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
        p.setProperty("org.quartz.jobStore.misfireThreshold", "5000");
        StdSchedulerFactory f = new StdSchedulerFactory(p);
        quartz = f.getScheduler();
        quartz.setJobFactory((bundle, s) -> ctx -> fire(bundle.getJobDetail().getJobDataMap()));
        for (ManagedDatabase db : inventory.databases()) {
            Policy pol = db.policy();
            schedule(db, "full", pol.fullCron(), JobType.BACKUP_FULL);
            schedule(db, "incremental", pol.incrementalCron(), JobType.BACKUP_INCREMENTAL);
            schedule(db, "drill", pol.drillCron(), JobType.DR_DRILL);
            schedule(db, "expire", pol.expireCron(), JobType.EXPIRE);
        }
    }

    private void schedule(ManagedDatabase db, String kind, String cron, JobType type) throws SchedulerException {
        if (cron == null) {
            return;
        }
        JobDataMap data = new JobDataMap();
        data.put("database", db.name());
        data.put("kind", kind);
        data.put("type", type.name());
        data.put("policy", db.policy().name());
        JobDetail detail = JobBuilder.newJob(Job.class)
                .withIdentity(kind, db.name())
                .usingJobData(data)
                .build();
        Trigger trigger = TriggerBuilder.newTrigger()
                .withIdentity(kind, db.name())
                .withSchedule(CronScheduleBuilder.cronSchedule(cron).withMisfireHandlingInstructionDoNothing())
                .build();
        quartz.scheduleJob(detail, trigger);
    }

    /**
     * How long after the controller starts a due run waits for its database's agent to connect: agents reconnect
     * within seconds of a controller (re)start, and a run fired before that would fail as "agent not connected" and
     * raise a backup-failure alert. After it, a run for an absent agent fails as before.
     */
    static final Duration AGENT_GRACE = Duration.ofSeconds(60);

    private volatile Predicate<String> agentConnected = agent -> true;
    private volatile Instant startedAt = Instant.EPOCH;

    /** Starts firing schedules; {@code agentConnected} tells whether an agent is connected now. */
    public void start(Predicate<String> agentConnected) throws SchedulerException {
        this.agentConnected = agentConnected;
        this.startedAt = Instant.now();
        quartz.start();
    }

    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    private void fire(JobDataMap data) {
        awaitAgentAfterStart(data.getString("database"));
        // one decision at a time per database: a full and an incremental due in the same second must not both start
        synchronized (locks.computeIfAbsent(data.getString("database"), k -> new Object())) {
            fireLocked(data);
        }
    }

    /**
     * Policies in streaming WAL mode keep a WAL_STREAM job running on the database's agent: when none runs (it was
     * cancelled, it failed, the agent restarted without wal-stream in its config), one is started and that is audited.
     */
    public void enforceWalStreams(AgentRegistry agents) {
        Instant now = Instant.now();
        for (ManagedDatabase db : inventory.databases()) {
            // wait for the agent's first heartbeat: its catch-up has then told us about the stream it already runs
            if (db.policy().walMode() != Tier.WalMode.STREAM
                    || agents.session(db.agent())
                            .filter(s -> s.heartbeats() > 0)
                            .isEmpty()) {
                continue;
            }
            synchronized (locks.computeIfAbsent(db.name(), k -> new Object())) {
                if (jobs.hasUnfinished(db.name(), db.agent(), JobType.WAL_STREAM.name())) {
                    walRestarts.remove(db.name());
                    continue;
                }
                // a stream that keeps failing (no replication permission, server down) is retried with backoff, not
                // every tick
                Instant[] state = walRestarts.computeIfAbsent(db.name(), k -> new Instant[] {Instant.EPOCH, null});
                if (now.isBefore(state[0])) {
                    continue;
                }
                Duration wait = state[1] == null
                        ? Duration.ofSeconds(30)
                        : Duration.between(state[1], state[0]).multipliedBy(2);
                if (wait.compareTo(Duration.ofMinutes(15)) > 0) {
                    wait = Duration.ofMinutes(15);
                }
                state[1] = now;
                state[0] = now.plus(wait);
                audit.record(
                        "policy:" + db.policy().name(),
                        "policy.wal-stream-started",
                        db.name(),
                        Map.of("walMode", "STREAM", "nextTryNotBefore", state[0].toString()));
                dispatcher.submit(
                        db.name(),
                        JobType.WAL_STREAM,
                        Map.of(),
                        "policy:" + db.policy().name());
            }
        }
    }

    /** Within {@link #AGENT_GRACE} of the start, waits (on the firing thread) for the database's agent to connect. */
    private void awaitAgentAfterStart(String database) {
        String agent = inventory.database(database).map(ManagedDatabase::agent).orElse(null);
        Instant until = startedAt.plus(AGENT_GRACE);
        try {
            while (agent != null && !agentConnected.test(agent) && Instant.now().isBefore(until)) {
                Thread.sleep(200);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Per database: when the next WAL stream restart may happen, and when the last one was. */
    private final Map<String, Instant[]> walRestarts = new ConcurrentHashMap<>();

    private void fireLocked(JobDataMap data) {
        String database = data.getString("database");
        String kind = data.getString("kind");
        JobType type = JobType.valueOf(data.getString("type"));
        String actor = "policy:" + data.getString("policy");
        try {
            for (JobRecord j : jobs.list(database, null, null, 50)) {
                if (!j.ended() && sameKind(j.type(), type)) {
                    audit.record(
                            actor,
                            "schedule.skipped",
                            database,
                            Map.of("kind", kind, "because", "job " + j.id() + " (" + j.type() + ") has not ended"));
                    return;
                }
            }
            audit.record(actor, "schedule.fired", database, Map.of("kind", kind));
            dispatcher.submit(database, type, Map.of(), actor);
        } catch (RuntimeException e) {
            log.error("scheduled {} of {} failed to start", kind, database, e);
        }
    }

    /**
     * Whether an unfinished job makes this run pointless: a due full still runs while an incremental does (the agent
     * queues it behind), so a day's full is never lost to a slow incremental; an incremental waits out any backup.
     */
    static boolean sameKind(String running, JobType type) {
        if (type == JobType.BACKUP_FULL) {
            return running.equals(JobType.BACKUP_FULL.name());
        }
        boolean backup = type.name().startsWith("BACKUP_");
        return backup ? running.startsWith("BACKUP_") : running.equals(type.name());
    }

    public List<ScheduledRun> upcoming() {
        List<ScheduledRun> out = new ArrayList<>();
        for (ManagedDatabase db : inventory.databases()) {
            Map<String, String> crons = new LinkedHashMap<>();
            crons.put("full", db.policy().fullCron());
            crons.put("incremental", db.policy().incrementalCron());
            crons.put("drill", db.policy().drillCron());
            crons.put("expire", db.policy().expireCron());
            crons.forEach((kind, cron) -> {
                if (cron == null) {
                    return;
                }
                Date next = null;
                try {
                    Trigger t = quartz.getTrigger(TriggerKey.triggerKey(kind, db.name()));
                    next = t == null ? null : t.getNextFireTime();
                } catch (SchedulerException e) {
                    log.debug("no trigger for {} {}", kind, db.name());
                }
                out.add(new ScheduledRun(
                        db.name(), db.policy().name(), kind, cron, next == null ? null : next.toInstant()));
            });
        }
        return out;
    }

    @Override
    public void close() throws SchedulerException {
        quartz.shutdown(false);
    }
}
