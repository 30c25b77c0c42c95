package dev.lifeboat.jenkins;

import com.cloudbees.groovy.cps.Continuable;
import com.cloudbees.groovy.cps.CpsTransformer;
import groovy.lang.Binding;
import groovy.lang.Closure;
import groovy.lang.GroovyShell;
import groovy.lang.Script;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.codehaus.groovy.control.CompilerConfiguration;
import org.codehaus.groovy.runtime.MethodClosure;

/**
 * Runs a scripted Jenkinsfile with the library's {@code vars/} under Groovy 2.4 (the version Jenkins runs pipelines
 * with), with the pipeline steps the library uses implemented for real: {@code sh} runs bash with the build's
 * environment, {@code withCredentials} puts a secret in it, {@code writeFile} writes into the workspace. With
 * {@code cps}, every script is compiled by groovy-cps's transformer and run by its interpreter, as Jenkins runs
 * pipelines, so code that is not CPS-safe fails here too. It is not Jenkins: no script security sandbox, no
 * credentials store, no durable resume (see docs/pipelines.md).
 */
final class PipelineRunner {
    /** What {@code error} throws: the build fails with this message. */
    static final class BuildFailed extends RuntimeException {
        BuildFailed(String message) {
            super(message);
        }
    }

    private final boolean cps;
    private final Path library;
    private final Path workspace;
    private final Map<String, String> credentials;
    private final Map<String, Object> env = new LinkedHashMap<>();
    private final Deque<Map<String, String>> scopes = new ArrayDeque<>();
    final List<String> log = new ArrayList<>();

    PipelineRunner(
            boolean cps, Path library, Path workspace, Map<String, String> credentials, Map<String, String> env) {
        this.cps = cps;
        this.library = library;
        this.workspace = workspace;
        this.credentials = credentials;
        this.env.putAll(env);
    }

    /** Runs the pipeline; returns what its last statement returns. */
    Object run(String jenkinsfile) throws IOException {
        Binding binding = new Binding();
        GroovyShell shell;
        if (cps) {
            CompilerConfiguration cc = new CompilerConfiguration();
            cc.addCompilationCustomizers(new CpsTransformer());
            shell = new GroovyShell(PipelineRunner.class.getClassLoader(), binding, cc);
            try (var in = PipelineRunner.class.getResourceAsStream("CpsPipelineScript.groovy")) {
                shell.getClassLoader()
                        .parseClass(new String(in.readAllBytes(), StandardCharsets.UTF_8), "CpsPipelineScript.groovy");
            }
            cc.setScriptBaseClass("dev.lifeboat.jenkins.CpsPipelineScript");
        } else {
            CompilerConfiguration cc = new CompilerConfiguration();
            cc.setScriptBaseClass(PipelineScript.class.getName());
            shell = new GroovyShell(PipelineRunner.class.getClassLoader(), binding, cc);
        }
        binding.setVariable("__steps", this);
        binding.setVariable("env", env);
        for (String step :
                List.of("echo", "error", "sh", "writeFile", "sleep", "withCredentials", "withEnv", "string")) {
            binding.setVariable(step, new MethodClosure(this, step));
        }
        try (var files = Files.list(library.resolve("vars"))) {
            for (Path f :
                    files.filter(p -> p.toString().endsWith(".groovy")).sorted().toList()) {
                String name = f.getFileName().toString().replace(".groovy", "");
                Script var = shell.parse(Files.readString(f), name);
                var.setBinding(binding);
                // a global variable: `name(args)` runs its call(), `name.method(…)` its other methods
                binding.setVariable(name, new VarClosure(var));
            }
        }
        Script pipeline = shell.parse(jenkinsfile, "Jenkinsfile");
        if (!cps) {
            return pipeline.run();
        }
        try {
            return new Continuable(pipeline).run(null);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    public void pushScope(Map<String, String> scope) {
        scopes.push(scope);
    }

    public void popScope() {
        scopes.pop();
    }

    public Map<String, String> envScope(List<Object> vars) {
        Map<String, String> scope = new LinkedHashMap<>();
        for (Object v : vars) {
            String s = String.valueOf(v);
            int eq = s.indexOf('=');
            scope.put(s.substring(0, eq), s.substring(eq + 1));
        }
        return scope;
    }

    public Map<String, String> credentialScope(List<Map<String, Object>> bindings) {
        Map<String, String> scope = new LinkedHashMap<>();
        for (Map<String, Object> b : bindings) {
            String id = String.valueOf(b.get("credentialsId"));
            String secret = credentials.get(id);
            if (secret == null) {
                throw new BuildFailed("Could not find credentials entry with ID '" + id + "'");
            }
            scope.put(String.valueOf(b.get("variable")), secret);
        }
        return scope;
    }

    /** A vars script as Jenkins exposes it: callable, and its other methods reachable as properties of it. */
    static final class VarClosure extends Closure<Object> {
        private final Script script;

        VarClosure(Script script) {
            super(script);
            this.script = script;
        }

        public Object doCall(Object... args) {
            return script.invokeMethod("call", args);
        }

        @Override
        public Object invokeMethod(String method, Object args) {
            if (method.equals("call") || method.equals("doCall")) {
                return script.invokeMethod("call", args);
            }
            return script.invokeMethod(method, args);
        }
    }

    public void echo(Object message) {
        log.add(String.valueOf(message));
    }

    public void error(Object message) {
        log.add("ERROR: " + message);
        throw new BuildFailed(String.valueOf(message));
    }

    public void sleep(Object seconds) throws InterruptedException {
        log.add("Sleeping for " + seconds + " sec");
        Thread.sleep(Long.parseLong(String.valueOf(seconds)) * 1000);
    }

    public void writeFile(Map<String, Object> args) throws IOException {
        Files.writeString(workspace.resolve(String.valueOf(args.get("file"))), String.valueOf(args.get("text")));
    }

    public Map<String, Object> string(Map<String, Object> args) {
        return Map.of("type", "string", "credentialsId", args.get("credentialsId"), "variable", args.get("variable"));
    }

    public Object withCredentials(List<Map<String, Object>> bindings, Closure<?> body) {
        return scoped(credentialScope(bindings), body);
    }

    public Object withEnv(List<Object> vars, Closure<?> body) {
        return scoped(envScope(vars), body);
    }

    private Object scoped(Map<String, String> scope, Closure<?> body) {
        scopes.push(scope);
        try {
            return body.call();
        } finally {
            scopes.pop();
        }
    }

    public Object sh(String script) throws Exception {
        return sh(Map.of("script", script));
    }

    public Object sh(Map<String, Object> args) throws Exception {
        // as Jenkins runs it: /bin/sh with -xe, the trace (stderr) going to the build log
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-xe", "-c", String.valueOf(args.get("script")))
                .directory(workspace.toFile());
        for (var e : env.entrySet()) {
            pb.environment().put(e.getKey(), String.valueOf(e.getValue()));
        }
        for (var it = scopes.descendingIterator(); it.hasNext(); ) {
            pb.environment().putAll(it.next());
        }
        pb.redirectErrorStream(false);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new BuildFailed("sh timed out");
        }
        String stdout = new String(out, StandardCharsets.UTF_8);
        log.add(err);
        if (p.exitValue() != 0) {
            throw new BuildFailed("script returned exit code " + p.exitValue() + ": " + err);
        }
        if (Boolean.TRUE.equals(args.get("returnStdout"))) {
            return stdout;
        }
        log.add(stdout);
        return null;
    }
}
