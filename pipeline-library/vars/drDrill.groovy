// drDrill(database: 'orders'[, sourceRegion: 'dr', assertions: [[name:, database:, sql:, expect:, timeout:]], rtoTarget: '15m',
//         rpoTarget: '1m', backupId:, PITR target as restorePitr]) → [outcome, rtoSeconds, rpoSeconds, reportUrl, …]
def call(Map args) {
    Map params = [source_region: args.sourceRegion, backup_id: args.backupId, assertions: args.assertions,
                  rto_target: args.rtoTarget, rpo_target: args.rpoTarget]
    restorePitr.putTarget(args, params)
    Map job = lifeboat.runJob(args, 'DR_DRILL', params)
    Map r = job.result
    job.outcome = r.outcome
    job.rtoSeconds = r.rto?.seconds
    job.rpoSeconds = r.rpo?.measured ? r.rpo.seconds : null
    String url = (args.controller ?: env.LIFEBOAT_URL).toString()
    job.reportUrl = (url.endsWith('/') ? url : url + '/') + "api/v1/drills/${job.jobId}/report.md"
    echo "lifeboat: drill ${job.outcome}: RTO ${job.rtoSeconds} s, RPO ${job.rpoSeconds} s; report ${job.reportUrl}"
    return job
}
