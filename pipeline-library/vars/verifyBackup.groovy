// verifyBackup(database: 'orders'[, backupId:, readData: true]) → [result: [ok, report], …]
def call(Map args) {
    return lifeboat.runJob(args, 'VERIFY', [backup_id: args.backupId, read_data: args.readData])
}
