package dev.lifeboat.storage.azure;

import com.azure.core.http.HttpPipelineCallContext;
import com.azure.core.http.HttpPipelineNextPolicy;
import com.azure.core.http.HttpPipelineNextSyncPolicy;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.policy.HttpPipelinePolicy;
import dev.lifeboat.storage.TransientStoreException;
import reactor.core.publisher.Mono;

/**
 * Fails a request whose answer says "try again later" (5xx, 408, 429) right where it arrives, before the SDK tries to
 * read an error body: an answer the SDK cannot parse (from a proxy or load balancer rather than Azure) would otherwise
 * surface as a parsing error with its status lost, and the store's retry layer could not tell it is transient.
 */
final class TransientAnswerPolicy implements HttpPipelinePolicy {

    /** A transient answer; {@link AzureBlobStore} reports it as a {@link TransientStoreException}. */
    static final class TransientAnswer extends RuntimeException {
        TransientAnswer(HttpResponse r) {
            super("HTTP " + r.getStatusCode() + errorCode(r));
        }

        private static String errorCode(HttpResponse r) {
            String code = r.getHeaderValue("x-ms-error-code");
            return code == null ? "" : " " + code;
        }
    }

    @Override
    public Mono<HttpResponse> process(HttpPipelineCallContext context, HttpPipelineNextPolicy next) {
        return next.process().flatMap(r -> isTransient(r) ? Mono.error(fail(r)) : Mono.just(r));
    }

    @Override
    public HttpResponse processSync(HttpPipelineCallContext context, HttpPipelineNextSyncPolicy next) {
        HttpResponse r = next.processSync();
        if (isTransient(r)) {
            throw fail(r);
        }
        return r;
    }

    private static boolean isTransient(HttpResponse r) {
        return TransientStoreException.transientStatus(r.getStatusCode());
    }

    private static TransientAnswer fail(HttpResponse r) {
        TransientAnswer e = new TransientAnswer(r);
        r.close();
        return e;
    }
}
