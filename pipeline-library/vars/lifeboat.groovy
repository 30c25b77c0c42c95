// Shared by the Lifeboat steps: the controller's REST API through curl (no plugin needed), and a job followed to its
// end. Parameters every step takes: controller (URL; default env.LIFEBOAT_URL) and credentialsId (a Secret-text
// credential holding a controller token; default 'lifeboat-token').

/** Runs one job (type: the REST API's) on the database's agent and follows it; returns the job with its result. */
def runJob(Map args, String type, Map params) {
    String database = required(args, 'database')
    // plain loops, no closures: code Jenkins runs continuation-passing must not hand closures to Groovy's methods
    Map given = [:]
    for (String k in params.keySet()) {
        if (params[k] != null) {
            given[k] = params[k] instanceof String ? params[k] : (params[k] instanceof Map || params[k] instanceof List
                    ? groovy.json.JsonOutput.toJson(params[k]) : params[k].toString())
        }
    }
    Map body = [id: 'jenkins-' + UUID.randomUUID().toString(), database: database, type: type, params: given]
    Map job = request(args, 'POST', 'api/v1/jobs', body)
    echo "lifeboat: ${type} of ${database} submitted as job ${job.id} ${body.params}"
    long seen = 0
    String phase = null
    while (true) {
        List events = request(args, 'GET', "api/v1/jobs/${job.id}/events", null)
        for (Map e in events) {
            if ((e.sequence as long) > seen) {
                seen = e.sequence as long
                if (e.kind != 'PROGRESS') {
                    echo "lifeboat: ${e.kind.toLowerCase()}${e.message ? ': ' + e.message : ''}"
                } else if (e.phase != phase) {
                    phase = e.phase
                    echo "lifeboat: ${e.phase ?: 'progress'}: ${((e.bytesDone ?: 0) as long) >> 20} MiB of ${((e.bytesTotal ?: 0) as long) >> 20} MiB"
                }
            }
        }
        job = request(args, 'GET', "api/v1/jobs/${job.id}", null)
        if (job.state in ['COMPLETED', 'FAILED', 'CANCELLED']) {
            break
        }
        sleep((args.pollSeconds ?: 2) as int) // seconds
    }
    Map result = job.resultJson ? parse(job.resultJson) : [:]
    Map out = [jobId: job.id, type: type, database: database, state: job.state, message: job.message, result: result]
    if (job.state != 'COMPLETED') {
        error("lifeboat: ${type} of ${database} ${job.state.toLowerCase()} (job ${job.id}): ${job.message}")
    }
    echo "lifeboat: ${type} of ${database} completed"
    return out
}

/** One REST call; the controller's error message fails the build. */
def request(Map args, String method, String path, Map body) {
    String url = (args.controller ?: env.LIFEBOAT_URL ?: '').toString()
    if (!url) {
        error('lifeboat: name the controller: controller: "https://…" or env.LIFEBOAT_URL')
    }
    url = url.endsWith('/') ? url : url + '/'
    String out
    withCredentials([string(credentialsId: (args.credentialsId ?: 'lifeboat-token').toString(), variable: 'LIFEBOAT_TOKEN')]) {
        withEnv(["LIFEBOAT_REQUEST_URL=${url}${path}", "LIFEBOAT_METHOD=${method}"]) {
            if (body != null) {
                writeFile(file: '.lifeboat-request.json', text: groovy.json.JsonOutput.toJson(body))
            }
            // the token stays in the environment: it never appears in the command line or the build log
            out = sh(returnStdout: true, script: '''set +x
curl -sS -X "$LIFEBOAT_METHOD" -H "Authorization: Bearer $LIFEBOAT_TOKEN" -H 'Content-Type: application/json' \
  ''' + (body != null ? '--data-binary @.lifeboat-request.json ' : '') + '''-w '\\n%{http_code}' "$LIFEBOAT_REQUEST_URL"''')
        }
    }
    int cut = out.lastIndexOf('\n')
    int status = out.substring(cut + 1).trim() as int
    String text = cut < 0 ? '' : out.substring(0, cut)
    def parsed = text.trim() ? parse(text) : null
    if (status >= 400) {
        error("lifeboat: the controller answered ${status}: ${parsed instanceof Map ? parsed.error : text}")
    }
    return parsed
}

def parse(String text) {
    return new groovy.json.JsonSlurperClassic().parseText(text)
}

def required(Map args, String name) {
    if (args[name] == null || args[name].toString().isEmpty()) {
        error("lifeboat: ${name} is required")
    }
    return args[name].toString()
}
