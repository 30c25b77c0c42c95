// backupFull(database: 'orders'[, compression:, parallel:, controller:, credentialsId:]) → [backupId, startLsn, stopLsn, …]
def call(Map args) {
    Map job = lifeboat.runJob(args, 'BACKUP_FULL', [compression: args.compression, parallel: args.parallel])
    return backupResult(job)
}

def backupResult(Map job) {
    Map r = job.result
    job.backupId = r.id
    job.startLsn = r.startLsn
    job.stopLsn = r.stopLsn
    job.stopTime = r.stopTime
    job.bytes = r.bytesRead
    return job
}
