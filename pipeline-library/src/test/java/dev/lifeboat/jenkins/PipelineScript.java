package dev.lifeboat.jenkins;

import groovy.lang.Script;

/**
 * The base of every script in plain-Groovy runs: Jenkins' {@code sleep} takes seconds, while Groovy's own
 * {@code Object.sleep} (which a plain script would call) takes milliseconds.
 */
public abstract class PipelineScript extends Script {
    public void sleep(long seconds) throws InterruptedException {
        ((PipelineRunner) getBinding().getVariable("__steps")).sleep(seconds);
    }
}
