// restorePitr(database: 'orders', target: '/abs/dir', targetTime: '…' | targetLsn | targetXid | targetName |
//             targetLatest: true[, exclusive:, timeline:, backupId:, validate: true, parallel:]) → [backupId, bytes, …]
def call(Map args) {
    Map params = [target: lifeboat.required(args, 'target'), backup_id: args.backupId,
                  validate: args.validate == null ? true : args.validate, parallel: args.parallel]
    putTarget(args, params)
    Map job = lifeboat.runJob(args, 'RESTORE_PITR', params)
    job.backupId = job.result.restore?.backupId
    job.bytes = job.result.restore?.bytes
    return job
}

def putTarget(Map args, Map params) {
    params.target_time = args.targetTime
    params.target_lsn = args.targetLsn
    params.target_xid = args.targetXid
    params.target_name = args.targetName
    params.target_latest = args.targetLatest ? true : null
    params.exclusive = args.exclusive
    params.timeline = args.timeline
}
