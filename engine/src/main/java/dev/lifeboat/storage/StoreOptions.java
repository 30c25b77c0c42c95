package dev.lifeboat.storage;

import dev.lifeboat.common.Durations;
import dev.lifeboat.storage.limiter.RateLimits;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * How {@link BlobStores#open(String, StoreOptions)} assembles a store stack.
 *
 * @param retryAttempts attempts per operation, the first included; 0: the backend's own setting
 *                      ({@code S3Settings.maxAttempts} and its Azure and GCS peers), 1: no retries
 * @param retryBudget   no retry wait that would end later than this after an operation's first attempt began
 * @param limits        rate limits of this store
 * @param stop          cuts retry and rate-limit waits short (a cancelled job or replication pass)
 */
public record StoreOptions(int retryAttempts, Duration retryBudget, RateLimits limits, BooleanSupplier stop) {
    public static final String RETRY_ATTEMPTS_ENV = "LIFEBOAT_STORE_RETRY_ATTEMPTS";
    public static final String RETRY_BUDGET_ENV = "LIFEBOAT_STORE_RETRY_BUDGET";
    public static final Duration DEFAULT_RETRY_BUDGET = Duration.ofMinutes(5);

    public StoreOptions {
        if (retryAttempts < 0 || retryBudget == null || retryBudget.isNegative() || retryBudget.isZero()) {
            throw new IllegalArgumentException("store retry attempts must not be negative, the retry budget positive");
        }
    }

    /** The backend's attempts, the default budget, no limits, never stopped. */
    public static StoreOptions defaults() {
        return new StoreOptions(0, DEFAULT_RETRY_BUDGET, RateLimits.NONE, () -> false);
    }

    /**
     * Reads {@value #RETRY_ATTEMPTS_ENV}, {@value #RETRY_BUDGET_ENV} (e.g. {@code 2m}) and the rate limits
     * ({@link RateLimits#fromEnvironment}).
     */
    public static StoreOptions fromEnvironment(Map<String, String> env) {
        String attempts = env.get(RETRY_ATTEMPTS_ENV);
        String budget = env.get(RETRY_BUDGET_ENV);
        return new StoreOptions(
                attempts == null || attempts.isBlank() ? 0 : positive(RETRY_ATTEMPTS_ENV, attempts),
                budget == null || budget.isBlank() ? DEFAULT_RETRY_BUDGET : Durations.parse(budget.strip()),
                RateLimits.fromEnvironment(env),
                () -> false);
    }

    private static int positive(String name, String value) {
        try {
            int n = Integer.parseInt(value.strip());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " must be a positive whole number, got '" + value + "'");
    }

    public StoreOptions withRetryAttempts(int attempts) {
        return new StoreOptions(attempts, retryBudget, limits, stop);
    }

    /** Limits no looser than these, nor than those already set. */
    public StoreOptions withLimits(RateLimits more) {
        return new StoreOptions(retryAttempts, retryBudget, limits.stricter(more), stop);
    }

    public StoreOptions withStop(BooleanSupplier stop) {
        return new StoreOptions(retryAttempts, retryBudget, limits, stop);
    }

    /** {@link #retryAttempts}, or {@code backendDefault} when that is 0. */
    int attemptsOr(int backendDefault) {
        return retryAttempts > 0 ? retryAttempts : backendDefault;
    }
}
