package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.CancelReply;
import dev.lifeboat.proto.v1.CancelRequest;
import dev.lifeboat.proto.v1.JobAccepted;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsReply;
import dev.lifeboat.proto.v1.ListJobsRequest;
import dev.lifeboat.proto.v1.WatchRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Jobs gRPC API over a {@link JobManager}, so the CLI (or anything else) can drive an agent directly. Errors map
 * to gRPC codes: a bad request is INVALID_ARGUMENT, a reused job id ALREADY_EXISTS, an unknown job NOT_FOUND, an
 * agent that is stopping UNAVAILABLE.
 */
public final class JobsService extends JobsGrpc.JobsImplBase {
    private static final Logger log = LoggerFactory.getLogger(JobsService.class);
    private final JobManager jobs;

    public JobsService(JobManager jobs) {
        this.jobs = jobs;
    }

    @Override
    public void submit(JobRequest request, StreamObserver<JobAccepted> out) {
        try {
            out.onNext(jobs.submit(request));
            out.onCompleted();
        } catch (RuntimeException | IOException e) {
            out.onError(status(e));
        }
    }

    @Override
    public void watch(WatchRequest request, StreamObserver<JobEvent> out) {
        ServerCallStreamObserver<JobEvent> call = (ServerCallStreamObserver<JobEvent>) out;
        AtomicReference<AutoCloseable> handle = new AtomicReference<>();
        Object lock = new Object();
        boolean[] done = {false};
        call.setOnCancelHandler(() -> close(handle.get()));
        try {
            handle.set(jobs.watch(request.getJobId(), request.getAfterSequence(), e -> {
                synchronized (lock) {
                    if (done[0] || call.isCancelled()) {
                        return;
                    }
                    call.onNext(e);
                    if (JobManager.isTerminal(e.getKind())) {
                        done[0] = true;
                        call.onCompleted();
                    }
                }
            }));
        } catch (RuntimeException e) {
            out.onError(status(e));
            return;
        }
        synchronized (lock) {
            // ended during replay, or the caller went away before the handle was set
            if (done[0] || call.isCancelled()) {
                close(handle.get());
            }
        }
    }

    private static void close(AutoCloseable h) {
        if (h != null) {
            try {
                h.close();
            } catch (Exception ignored) {
                // closing a subscription cannot fail
            }
        }
    }

    @Override
    public void cancel(CancelRequest request, StreamObserver<CancelReply> out) {
        try {
            boolean c = jobs.cancel(request.getJobId(), request.getReason());
            out.onNext(CancelReply.newBuilder().setCancelling(c).build());
            out.onCompleted();
        } catch (RuntimeException e) {
            out.onError(status(e));
        }
    }

    @Override
    public void list(ListJobsRequest request, StreamObserver<ListJobsReply> out) {
        try {
            out.onNext(ListJobsReply.newBuilder()
                    .addAllJobs(jobs.list(request.getRunningOnly()))
                    .build());
            out.onCompleted();
        } catch (RuntimeException e) {
            out.onError(status(e));
        }
    }

    static StatusRuntimeException status(Exception e) {
        Status s;
        if (e instanceof UnknownJobException) {
            s = Status.NOT_FOUND;
        } else if (e instanceof JobConflictException) {
            s = Status.ALREADY_EXISTS;
        } else if (e instanceof IllegalArgumentException) {
            s = Status.INVALID_ARGUMENT;
        } else if (e instanceof IllegalStateException) {
            s = Status.UNAVAILABLE;
        } else {
            log.warn("Jobs API call failed", e);
            s = Status.INTERNAL;
        }
        return s.withDescription(JobManager.describe(e)).asRuntimeException();
    }
}
