package dev.lifeboat.jenkins

import com.cloudbees.groovy.cps.SerializableScript

/**
 * The block steps, continuation-passing like Jenkins' own: their bodies are CPS code, so they are called from CPS
 * code here (a Java step could not resume one). The runner keeps the scopes; the other steps stay Java.
 */
abstract class CpsPipelineScript extends SerializableScript {
    // Jenkins' sleep takes seconds (Groovy's own Object.sleep, milliseconds)
    def sleep(long seconds) {
        binding.getVariable('__steps').sleep(seconds)
    }

    def withEnv(List vars, Closure body) {
        def steps = binding.getVariable('__steps')
        steps.pushScope(steps.envScope(vars))
        try {
            return body.call()
        } finally {
            steps.popScope()
        }
    }

    def withCredentials(List bindings, Closure body) {
        def steps = binding.getVariable('__steps')
        steps.pushScope(steps.credentialScope(bindings))
        try {
            return body.call()
        } finally {
            steps.popScope()
        }
    }
}
